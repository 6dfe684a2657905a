/* charset.h - the one check of the character sets ids and names may use:
 * registry ids, order numbers, legacy client ids and web page paths all say
 * which letters and signs they allow here, instead of each writing its own
 * loop. Pure. */
#ifndef KB_CHARSET_H
#define KB_CHARSET_H

#include <stddef.h>

/* What a text may hold besides the signs in `also`. */
enum { CHARSET_LOWER = 1, CHARSET_UPPER = 2, CHARSET_DIGITS = 4 };

/* 1 if s has 1 to max characters, each of the classes in `classes` or one
 * of the signs in `also` (ASCII only), else 0. */
int charset_is(const char *s, size_t max, int classes, const char *also);

#endif
