/* errbuf.h - the one way a function reports why it failed into a caller's
 * buffer: `return errbuf_set(err, errlen, "cannot open %s", path);`. */
#ifndef KB_ERRBUF_H
#define KB_ERRBUF_H

#include <stddef.h>

/* Formats into err (errlen bytes, truncated) and returns -1. */
__attribute__((format(printf, 3, 4))) int errbuf_set(char *err, size_t errlen, const char *fmt, ...);

#endif
