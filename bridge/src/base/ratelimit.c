/* ratelimit.c - see ratelimit.h. */
#include "ratelimit.h"

#include <stdio.h>
#include <string.h>

void ratelimit_init(ratelimit *rl, int max, double window_ms)
{
    memset(rl, 0, sizeof *rl);
    rl->max = max < 1 ? 1 : max > RATELIMIT_MAX ? RATELIMIT_MAX : max;
    rl->window_ms = window_ms;
}

/* Failures of e still inside the window. */
static int recent(const ratelimit *rl, const ratelimit_entry *e, double now_ms)
{
    int n = 0;
    for (int i = 0; i < e->n; i++) n += now_ms - e->fails[i] < rl->window_ms;
    return n;
}

static ratelimit_entry *find(ratelimit *rl, const char *addr)
{
    for (int i = 0; i < RATELIMIT_ADDRS; i++)
        if (rl->e[i].n && strcmp(rl->e[i].addr, addr) == 0) return &rl->e[i];
    return NULL;
}

int ratelimit_allowed(ratelimit *rl, const char *addr, double now_ms)
{
    const ratelimit_entry *e = find(rl, addr);
    return !e || recent(rl, e, now_ms) < rl->max;
}

void ratelimit_fail(ratelimit *rl, const char *addr, double now_ms)
{
    ratelimit_entry *e = find(rl, addr);
    if (!e) {
        e = &rl->e[0];
        for (int i = 0; i < RATELIMIT_ADDRS; i++) {
            if (!rl->e[i].n) {
                e = &rl->e[i];
                break;
            }
            if (rl->e[i].last_ms < e->last_ms) e = &rl->e[i];
        }
        memset(e, 0, sizeof *e);
        snprintf(e->addr, sizeof e->addr, "%s", addr);
    }
    e->fails[e->next] = now_ms;
    e->next = (e->next + 1) % rl->max;
    if (e->n < rl->max) e->n++;
    e->last_ms = now_ms;
}
