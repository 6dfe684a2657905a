/* text_buf.c - see text_buf.h. */
#include "text_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void text_buf_printf(text_buf *t, const char *fmt, ...)
{
    if (t->failed) return;
    if (!t->buf) {
        t->buf = malloc(256);
        if (!t->buf) {
            t->failed = 1;
            return;
        }
        t->buf[0] = '\0';
        t->len = 0;
        t->cap = 256;
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->buf[t->len] = '\0'; /* vsnprintf wrote a cut-short piece */
        size_t cap = t->cap * 2 + (size_t)n;
        char *grown = realloc(t->buf, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
}

char *text_buf_take(text_buf *t)
{
    char *out = t->failed ? NULL : t->buf ? t->buf : calloc(1, 1);
    if (t->failed) free(t->buf);
    *t = (text_buf){0};
    return out;
}
