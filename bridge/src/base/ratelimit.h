/* ratelimit.h - failures per client address in a sliding window: the brake
 * on guessing admin passwords and pairing codes.
 *
 * A fixed table of RATELIMIT_ADDRS addresses; when it is full the one
 * heard from longest ago is replaced. An address with `max` failures in the
 * last `window_ms` is refused until the oldest of them ages out. Times are
 * the caller's milliseconds (kb_now_ms). No allocation. */
#ifndef KB_RATELIMIT_H
#define KB_RATELIMIT_H

#define RATELIMIT_ADDRS 64
#define RATELIMIT_MAX 16

typedef struct {
    char addr[64];
    double fails[RATELIMIT_MAX]; /* times of the last failures, a ring */
    int n, next;
    double last_ms;
} ratelimit_entry;

typedef struct {
    int max;          /* failures allowed in the window, 1..RATELIMIT_MAX */
    double window_ms;
    ratelimit_entry e[RATELIMIT_ADDRS];
} ratelimit;

void ratelimit_init(ratelimit *rl, int max, double window_ms);
/* 1 if addr may try now; 0 while it is over its limit. */
int ratelimit_allowed(ratelimit *rl, const char *addr, double now_ms);
/* Records a failed attempt from addr. */
void ratelimit_fail(ratelimit *rl, const char *addr, double now_ms);

#endif
