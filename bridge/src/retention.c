/* retention.c - see retention.h. */
#include "retention.h"

#include "health.h"
#include "log.h"
#include "uplink_replay.h"

#define RETENTION_BATCH 200
#define RETENTION_EVERY_MS 1000.0

static int64_t prunable(void *ctx, const char *tenant) { return uplink_replay_seen(ctx, tenant); }

void retention_tick(bridge *b)
{
    static double last;
    static int behind; /* the last batch was full: go on at the next tick */
    double now = bridge_now_ms();
    if ((!behind && now - last < RETENTION_EVERY_MS) || !b->journal_ok) return;
    last = now;
    journal_prune_stats st;
    if (journal_prune(b->journal, journal_wall_ms() - b->config.retention_ms, RETENTION_BATCH, prunable, b, &st) != 0) {
        log_error("retention: %s", journal_last_error(b->journal));
        return;
    }
    behind = st.orders >= RETENTION_BATCH;
    b->stats.pruned_orders += (uint64_t)st.orders;
    b->stats.pruned_events += (uint64_t)st.events;
}
