/* retention.c - see retention.h. */
#include "retention.h"

#include "clock.h"
#include "log.h"

#define RETENTION_BATCH 200
#define RETENTION_EVERY_MS 1000.0

static int64_t prunable(void *ctx, const char *tenant) { return uplink_replay_seen(ctx, tenant); }

void retention_tick(retention *r)
{
    double now = kb_now_ms();
    if ((!r->behind && now - r->last_ms < RETENTION_EVERY_MS) || !r->status->journal_ok) return;
    r->last_ms = now;
    journal_prune_stats st;
    if (journal_prune(r->journal, journal_wall_ms() - r->retention_ms, RETENTION_BATCH, prunable, (void *)r->uplink,
                      &st) != 0) {
        log_error("retention: %s", journal_last_error(r->journal));
        return;
    }
    r->behind = st.orders >= RETENTION_BATCH;
    r->status->pruned_orders += (uint64_t)st.orders;
    r->status->pruned_events += (uint64_t)st.events;
}
