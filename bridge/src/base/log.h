/* log.h - one-line logs to stderr with a timestamp and a level.
 * Never pass a password or a payload's secrets to these. */
#ifndef KB_LOG_H
#define KB_LOG_H

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
