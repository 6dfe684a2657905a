/* duration.h - the settings' duration syntax: a whole number and a unit,
 * `30d`, `6h`, `10m`, `90s` (KB_DEDUPE_WINDOW, KB_RETENTION). Pure. */
#ifndef KB_DURATION_H
#define KB_DURATION_H

#include <stdint.h>

/* Parses text into milliseconds: 0, or -1 if it is not a duration (no
 * number, no or an unknown unit, trailing text, or over 100 years). */
int duration_parse(const char *text, int64_t *ms);

#endif
