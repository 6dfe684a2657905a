/* json_util.c - see json_util.h.
 *
 * cJSON's own "require null terminated" check demands a NUL inside the
 * given length, which MQTT payloads and file buffers do not carry, so the
 * trailing bytes are checked here. */
#include "json_util.h"

cJSON *json_parse_exact(const char *text, size_t len)
{
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!doc) return NULL;
    for (const char *p = end; p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(doc);
            return NULL;
        }
    }
    return doc;
}
