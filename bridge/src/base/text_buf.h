/* text_buf.h - the one growable text buffer: the Prometheus exposition of
 * /metrics (each module appends its own metrics to the same buffer) and the
 * reports' CSV.
 *
 * Invariants: buf is NULL (nothing written yet) or a malloc'd NUL-terminated
 * string of len bytes in cap; once an append fails (out of memory, a format
 * error), `failed` stays 1, every later append does nothing, and
 * text_buf_take() frees what was written and gives NULL. So a writer of many
 * pieces checks once, at the end. A zeroed text_buf is empty and ready. */
#ifndef KB_TEXT_BUF_H
#define KB_TEXT_BUF_H

#include <stddef.h>

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} text_buf;

/* Appends the printf-formatted text (the buffer grows by doubling). */
__attribute__((format(printf, 2, 3))) void text_buf_printf(text_buf *t, const char *fmt, ...);

/* The text, for the caller to free ("" if nothing was written), or NULL if
 * an append failed (then nothing is left to free). t is empty afterwards. */
char *text_buf_take(text_buf *t);

#endif
