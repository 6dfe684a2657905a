/* health.c - see health.h. */
#include "health.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const double latency_bounds_ms[LATENCY_BUCKETS] = {0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000};

/* "connected" exactly while the link is up, as clients expect. */
static const char *broker_state_name(const bridge *b)
{
    if (b->broker_connected) return "connected";
    switch (b->link.state) {
    case BROKER_CONNECTING: return "connecting";
    case BROKER_REFUSED: return "refused";
    case BROKER_UNREACHABLE: return "unreachable";
    default: return "disconnected"; /* stopping */
    }
}

char *health_json(bridge *b, int *ok)
{
    *ok = b->broker_connected && b->journal_ok;
    char now[32];
    bridge_iso_time(now, sizeof now);
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "status", *ok ? "ok" : "degraded");
    cJSON_AddStringToObject(h, "broker", broker_state_name(b));
    if (!b->broker_connected) cJSON_AddStringToObject(h, "broker_reason", b->link.reason);
    cJSON_AddStringToObject(h, "broker_since", b->link.since);
    /* "synced" once the registry's devices and roles have been sent to the
     * broker since the bridge (re)connected: devices can log in. */
    cJSON_AddStringToObject(h, "access", b->access_synced ? "synced" : "syncing");
    cJSON_AddStringToObject(h, "journal", b->journal_ok ? "ok" : "failing");
    if (!b->journal_ok) cJSON_AddStringToObject(h, "journal_error", b->journal_error);
    cJSON_AddNumberToObject(h, "uptime_s", (double)(time(NULL) - b->started_at));
    cJSON_AddNumberToObject(h, "orders_open", (double)journal_open_total(b->journal));
    cJSON_AddStringToObject(h, "version", KB_VERSION);
    cJSON_AddStringToObject(h, "outlet", b->registry->outlet_id);
    cJSON_AddStringToObject(h, "mode", b->registry->demo ? "demo" : "production");
    cJSON_AddStringToObject(h, "legacy_mode", b->registry->legacy_open ? "open" : "authenticated");
    cJSON_AddNumberToObject(h, "acks_pending", (double)b->acks.length);
    cJSON_AddStringToObject(h, "timestamp", now);
    char *text = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    return text;
}

void health_changed(bridge *b) { b->health_dirty = 1; }

void health_journal_failed(bridge *b, const char *why)
{
    b->stats.journal_failures++;
    snprintf(b->journal_error, sizeof b->journal_error, "%s", why);
    if (b->journal_ok) {
        b->journal_ok = 0;
        health_changed(b);
    }
}

void health_journal_recovered(bridge *b)
{
    if (b->journal_ok) return;
    b->journal_ok = 1;
    b->journal_error[0] = '\0';
    log_info("journal writable again");
    health_changed(b);
}

void health_record_ack_latency(bridge *b, double ms)
{
    for (int i = 0; i < LATENCY_BUCKETS; i++)
        if (ms <= latency_bounds_ms[i]) {
            b->stats.ack_latency_buckets[i]++;
            break;
        }
    b->stats.ack_latency_count++;
    b->stats.ack_latency_sum_ms += ms;
}

/* A growable text buffer for the exposition. */
typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} text_buf;

__attribute__((format(printf, 2, 3)))
static void emit(text_buf *t, const char *fmt, ...)
{
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *grown = realloc(t->buf, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
}

static int emit_open(void *ctx, const char *tenant, int64_t n)
{
    emit(ctx, "kb_orders_open{tenant=\"%s\"} %lld\n", tenant, (long long)n);
    return 0;
}

char *metrics_text(bridge *b)
{
    text_buf t = {malloc(4096), 0, 4096, 0};
    if (!t.buf) return NULL;
    const bridge_stats *s = &b->stats;
    emit(&t, "# HELP kb_orders_accepted_total New orders accepted and journaled.\n"
             "# TYPE kb_orders_accepted_total counter\nkb_orders_accepted_total %llu\n",
         (unsigned long long)s->accepted);
    emit(&t, "# HELP kb_status_changes_total Accepted status changes and cancels.\n"
             "# TYPE kb_status_changes_total counter\nkb_status_changes_total %llu\n",
         (unsigned long long)s->status_changes);
    emit(&t, "# HELP kb_duplicates_total Re-sent orders and status changes answered as duplicate.\n"
             "# TYPE kb_duplicates_total counter\nkb_duplicates_total %llu\n",
         (unsigned long long)s->duplicates);
    emit(&t, "# HELP kb_rejections_total Rejected messages by reason.\n# TYPE kb_rejections_total counter\n");
    for (int e = 1; e < KB_ERR__COUNT; e++)
        emit(&t, "kb_rejections_total{reason=\"%s\"} %llu\n", kb_error_code(e),
             (unsigned long long)s->rejected[e]);
    emit(&t, "# HELP kb_orders_open Open orders per tenant.\n# TYPE kb_orders_open gauge\n");
    journal_count_open(b->journal, emit_open, &t);
    emit(&t, "# HELP kb_ack_latency_ms Submit-to-ack latency.\n# TYPE kb_ack_latency_ms histogram\n");
    uint64_t cumulative = 0;
    for (int i = 0; i < LATENCY_BUCKETS; i++) {
        cumulative += s->ack_latency_buckets[i];
        emit(&t, "kb_ack_latency_ms_bucket{le=\"%g\"} %llu\n", latency_bounds_ms[i],
             (unsigned long long)cumulative);
    }
    emit(&t, "kb_ack_latency_ms_bucket{le=\"+Inf\"} %llu\nkb_ack_latency_ms_sum %.3f\nkb_ack_latency_ms_count %llu\n",
         (unsigned long long)s->ack_latency_count, s->ack_latency_sum_ms,
         (unsigned long long)s->ack_latency_count);
    emit(&t, "# HELP kb_broker_connected 1 while the bridge is connected to the broker.\n"
             "# TYPE kb_broker_connected gauge\nkb_broker_connected %d\n", b->broker_connected);
    emit(&t, "# HELP kb_broker_reconnects_total Broker connections made after the first.\n"
             "# TYPE kb_broker_reconnects_total counter\nkb_broker_reconnects_total %llu\n",
         (unsigned long long)s->broker_reconnects);
    emit(&t, "# HELP kb_broker_refusals_total Connection attempts the broker refused in its CONNACK "
             "(e.g. Not authorized).\n"
             "# TYPE kb_broker_refusals_total counter\nkb_broker_refusals_total %llu\n",
         (unsigned long long)s->broker_refusals);
    emit(&t, "# HELP kb_broker_connect_failures_total Connection attempts that did not reach the broker "
             "(connect failed, or closed before the CONNACK).\n"
             "# TYPE kb_broker_connect_failures_total counter\nkb_broker_connect_failures_total %llu\n",
         (unsigned long long)s->broker_connect_failures);
    emit(&t, "# HELP kb_journal_ok 1 while the journal is writable.\n# TYPE kb_journal_ok gauge\nkb_journal_ok %d\n",
         b->journal_ok);
    emit(&t, "# HELP kb_journal_failures_total Failed journal writes or commits.\n"
             "# TYPE kb_journal_failures_total counter\nkb_journal_failures_total %llu\n",
         (unsigned long long)s->journal_failures);
    /* Orders accepted per commit is how well group commit works. */
    emit(&t, "# HELP kb_journal_commits_total Journal batches committed (one fsync each).\n"
             "# TYPE kb_journal_commits_total counter\nkb_journal_commits_total %llu\n",
         (unsigned long long)journal_commit_count(b->journal));
    emit(&t, "# HELP kb_journal_memory_bytes Memory SQLite holds (page cache, statements).\n"
             "# TYPE kb_journal_memory_bytes gauge\nkb_journal_memory_bytes %lld\n",
         (long long)journal_memory_used());
    journal_size js;
    if (journal_stats(b->journal, &js) == 0) {
        emit(&t, "# HELP kb_journal_bytes The journal's file and its WAL on disk.\n"
                 "# TYPE kb_journal_bytes gauge\nkb_journal_bytes %lld\n", (long long)js.bytes);
        emit(&t, "# HELP kb_journal_rows Rows in the journal's tables.\n# TYPE kb_journal_rows gauge\n"
                 "kb_journal_rows{table=\"orders\"} %lld\nkb_journal_rows{table=\"events\"} %lld\n",
             (long long)js.orders, (long long)js.events);
        emit(&t, "# HELP kb_journal_oldest_closed_age_seconds Age of the oldest closed order still kept "
                 "(0 if none).\n# TYPE kb_journal_oldest_closed_age_seconds gauge\n"
                 "kb_journal_oldest_closed_age_seconds %.0f\n",
             js.oldest_closed_ms ? (double)(journal_wall_ms() - js.oldest_closed_ms) / 1000.0 : 0.0);
    }
    emit(&t, "# HELP kb_journal_pruned_total Rows deleted by retention (KB_RETENTION).\n"
             "# TYPE kb_journal_pruned_total counter\nkb_journal_pruned_total{table=\"orders\"} %llu\n"
             "kb_journal_pruned_total{table=\"events\"} %llu\n",
         (unsigned long long)s->pruned_orders, (unsigned long long)s->pruned_events);
    emit(&t, "# HELP kb_uplink_replayed_events_total Journaled events re-sent to head office.\n"
             "# TYPE kb_uplink_replayed_events_total counter\nkb_uplink_replayed_events_total %llu\n",
         (unsigned long long)s->uplink_replayed);
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    return t.buf;
}
