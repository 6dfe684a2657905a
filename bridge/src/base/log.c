/* log.c - see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

__attribute__((format(printf, 2, 0)))
static void emit(const char *level, const char *fmt, va_list ap)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s kb-bridge %s: ", stamp, level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

#define DEFINE_LOG(name, level)         \
    void name(const char *fmt, ...)     \
    {                                   \
        va_list ap;                     \
        va_start(ap, fmt);              \
        emit(level, fmt, ap);           \
        va_end(ap);                     \
    }

DEFINE_LOG(log_info, "info")
DEFINE_LOG(log_warn, "WARNING")
DEFINE_LOG(log_error, "ERROR")
