/* text_append.c - see text_append.h. Each call measures, grows and writes:
 * quadratic in the number of pieces, which is fine for /metrics (a few
 * hundred lines); a large document (reports) keeps its own length and
 * capacity instead. */
#include "text_append.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int text_appendf(char **buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    size_t have = *buf ? strlen(*buf) : 0;
    char *grown = realloc(*buf, have + (size_t)n + 1);
    if (!grown) return -1;
    va_start(ap, fmt);
    vsnprintf(grown + have, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *buf = grown;
    return 0;
}
