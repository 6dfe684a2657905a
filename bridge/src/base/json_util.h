/* json_util.h - the one way the bridge parses JSON from the outside world. */
#ifndef KB_JSON_UTIL_H
#define KB_JSON_UTIL_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Parses exactly `len` bytes (no NUL needed): one JSON value with nothing but
 * whitespace after it. NULL if the text is not exactly that. */
cJSON *json_parse_exact(const char *text, size_t len);

#endif
