/* clock.h - the bridge's two notions of time: monotonic for latency and
 * timers, wall-clock UTC for the timestamps written into orders. */
#ifndef KB_CLOCK_H
#define KB_CLOCK_H

#include <stddef.h>

/* Milliseconds on a monotonic clock. */
double kb_now_ms(void);
/* ISO 8601 UTC with milliseconds, e.g. 2026-11-25T06:50:00.123Z. */
void kb_iso_time(char *buf, size_t len);

#endif
