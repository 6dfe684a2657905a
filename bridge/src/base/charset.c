/* charset.c - see charset.h. */
#include "charset.h"

#include <string.h>

int charset_is(const char *s, size_t max, int classes, const char *also)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = ((classes & CHARSET_LOWER) && c >= 'a' && c <= 'z') ||
                 ((classes & CHARSET_UPPER) && c >= 'A' && c <= 'Z') ||
                 ((classes & CHARSET_DIGITS) && c >= '0' && c <= '9') || (c && strchr(also, c));
        if (!ok || n >= max) return 0;
    }
    return n > 0;
}
