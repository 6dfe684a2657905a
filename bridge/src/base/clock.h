/* clock.h - the bridge's two notions of time: monotonic for latency and
 * timers, wall-clock UTC for the timestamps written into orders. */
#ifndef KB_CLOCK_H
#define KB_CLOCK_H

#include <stddef.h>

/* Milliseconds on a monotonic clock. */
double kb_now_ms(void);
/* ISO 8601 UTC with milliseconds, e.g. 2026-11-25T06:50:00.123Z. */
void kb_iso_time(char *buf, size_t len);
/* The same for a wall-clock time in milliseconds since 1970. */
void kb_iso_from_ms(long long ms, char *buf, size_t len);
/* Wall-clock milliseconds since 1970, now: the system's, or the test
 * clock's once kb_clock_set_test has been called. */
long long kb_wall_ms(void);
/* Tests only (KB_TEST_CLOCK=1, refused with a production registry): from
 * now on the wall clock stands still at `wall_ms` until the next call, so a
 * test chooses, to the millisecond, the times the bridge stamps on orders.
 * Monotonic time (kb_now_ms: timers, latency, sessions) is not affected. */
void kb_clock_set_test(long long wall_ms);
/* Reads what kb_iso_time writes (milliseconds optional, "Z" required):
 * milliseconds since 1970, or -1 if it is not such a time. */
long long kb_iso_parse_ms(const char *iso);

#endif
