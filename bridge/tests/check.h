/* check.h - the one CHECK macro the C unit tests share: counts checks,
 * reports each failure with its line, and keeps going. A test program
 * includes it once and ends with `return check_report();`. */
#ifndef KB_TESTS_CHECK_H
#define KB_TESTS_CHECK_H

#include <stdio.h>

static int failures, checks;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        checks++;                                                                        \
        if (!(cond)) {                                                                   \
            failures++;                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                \
    } while (0)

static inline int check_report(void)
{
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}

#endif
