/* text_append.h - the one way to grow a malloc'd text a piece at a time,
 * for the Prometheus text of /metrics (each module appends its own metrics
 * to the same buffer).
 *
 * Invariant: *buf is NULL (the empty text) or a NUL-terminated string from
 * malloc/realloc, owned by the caller; on failure it is left as it was. */
#ifndef KB_TEXT_APPEND_H
#define KB_TEXT_APPEND_H

/* Appends the printf-formatted text to *buf (reallocated). 0, or -1 if out
 * of memory or fmt cannot be formatted (*buf unchanged). */
__attribute__((format(printf, 2, 3))) int text_appendf(char **buf, const char *fmt, ...);

#endif
