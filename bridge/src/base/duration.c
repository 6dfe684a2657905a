/* duration.c - see duration.h. */
#include "duration.h"

#include <ctype.h>

int duration_parse(const char *text, int64_t *ms)
{
    static const int64_t max_ms = (int64_t)100 * 365 * 24 * 3600 * 1000;
    if (!text || !isdigit((unsigned char)*text)) return -1;
    int64_t n = 0;
    for (; isdigit((unsigned char)*text); text++) {
        n = n * 10 + (*text - '0');
        if (n > max_ms) return -1;
    }
    int64_t unit;
    switch (*text) {
    case 's': unit = 1000; break;
    case 'm': unit = 60 * 1000; break;
    case 'h': unit = 3600 * 1000; break;
    case 'd': unit = 24 * 3600 * 1000; break;
    default: return -1;
    }
    if (text[1] != '\0' || n > max_ms / unit) return -1;
    *ms = n * unit;
    return 0;
}
