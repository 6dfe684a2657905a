/* health.c - see health.h. */
#include "health.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "text_buf.h"
#include "version.h"

/* "connected" exactly while the link is up, as clients expect. */
static const char *broker_state_name(const kb_status *s)
{
    if (s->broker_connected) return "connected";
    switch (s->broker) {
    case BROKER_CONNECTING: return "connecting";
    case BROKER_REFUSED: return "refused";
    case BROKER_UNREACHABLE: return "unreachable";
    default: return "disconnected"; /* stopping */
    }
}

char *health_json(const kb_status *s, kb_pipeline *p, const registry *r, int *ok)
{
    journal *j = pipeline_journal(p);
    *ok = s->broker_connected && s->journal_ok;
    char now[32];
    kb_iso_time(now, sizeof now);
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "status", *ok ? "ok" : "degraded");
    cJSON_AddStringToObject(h, "broker", broker_state_name(s));
    if (!s->broker_connected) cJSON_AddStringToObject(h, "broker_reason", s->broker_reason);
    cJSON_AddStringToObject(h, "broker_since", s->broker_since);
    /* "synced" once the registry's devices and roles have been sent to the
     * broker since the bridge (re)connected: devices can log in. */
    cJSON_AddStringToObject(h, "access", s->access_synced ? "synced" : "syncing");
    cJSON_AddStringToObject(h, "journal", s->journal_ok ? "ok" : "failing");
    if (!s->journal_ok) cJSON_AddStringToObject(h, "journal_error", s->journal_error);
    cJSON_AddNumberToObject(h, "uptime_s", (double)(time(NULL) - s->started_at));
    cJSON_AddNumberToObject(h, "orders_open", (double)journal_open_total(j));
    cJSON_AddStringToObject(h, "version", KB_VERSION);
    cJSON_AddStringToObject(h, "outlet", r->outlet_id);
    cJSON_AddStringToObject(h, "mode", r->demo ? "demo" : "production");
    cJSON_AddStringToObject(h, "legacy_mode", r->legacy_open ? "open" : "authenticated");
    cJSON_AddNumberToObject(h, "acks_pending", (double)pipeline_acks_pending(p));
    /* Informative only: an outlet works without head office. */
    if (s->uplink_link >= 0) {
        cJSON *u = cJSON_AddObjectToObject(h, "uplink");
        cJSON_AddStringToObject(u, "state", s->uplink_link ? "connected" : "disconnected");
        cJSON_AddStringToObject(u, "connection", s->uplink_name);
        cJSON_AddStringToObject(u, "since", s->uplink_since);
    }
    cJSON_AddStringToObject(h, "timestamp", now);
    char *text = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    return text;
}

static int emit_open(void *ctx, const char *tenant, int64_t n, const char *oldest)
{
    (void)oldest;
    text_buf_printf(ctx, "kb_orders_open{tenant=\"%s\"} %lld\n", tenant, (long long)n);
    return 0;
}

void metrics_text(text_buf *t, const kb_status *s, kb_pipeline *p)
{
    journal *j = pipeline_journal(p);
    text_buf_printf(t, "# HELP kb_orders_accepted_total New orders accepted and journaled.\n"
             "# TYPE kb_orders_accepted_total counter\nkb_orders_accepted_total %llu\n",
         (unsigned long long)s->accepted);
    text_buf_printf(t, "# HELP kb_status_changes_total Accepted status changes and cancels.\n"
             "# TYPE kb_status_changes_total counter\nkb_status_changes_total %llu\n",
         (unsigned long long)s->status_changes);
    text_buf_printf(t, "# HELP kb_duplicates_total Re-sent orders and status changes answered as duplicate.\n"
             "# TYPE kb_duplicates_total counter\nkb_duplicates_total %llu\n",
         (unsigned long long)s->duplicates);
    text_buf_printf(t, "# HELP kb_rejections_total Rejected messages by reason.\n# TYPE kb_rejections_total counter\n");
    for (int e = 1; e < KB_ERR__COUNT; e++)
        text_buf_printf(t, "kb_rejections_total{reason=\"%s\"} %llu\n", kb_error_code(e),
             (unsigned long long)s->rejected[e]);
    text_buf_printf(t, "# HELP kb_orders_open Open orders per tenant.\n# TYPE kb_orders_open gauge\n");
    journal_count_open(j, emit_open, t);
    text_buf_printf(t, "# HELP kb_ack_latency_ms Submit-to-ack latency.\n# TYPE kb_ack_latency_ms histogram\n");
    uint64_t cumulative = 0;
    for (int i = 0; i < KB_LATENCY_BUCKETS; i++) {
        cumulative += s->ack_latency_buckets[i];
        text_buf_printf(t, "kb_ack_latency_ms_bucket{le=\"%g\"} %llu\n", kb_latency_bounds_ms[i],
             (unsigned long long)cumulative);
    }
    text_buf_printf(t, "kb_ack_latency_ms_bucket{le=\"+Inf\"} %llu\nkb_ack_latency_ms_sum %.3f\nkb_ack_latency_ms_count %llu\n",
         (unsigned long long)s->ack_latency_count, s->ack_latency_sum_ms,
         (unsigned long long)s->ack_latency_count);
    text_buf_printf(t, "# HELP kb_ticket_seconds Ticket time (created to first ready) of orders that became ready since "
             "the bridge started, per tenant.\n# TYPE kb_ticket_seconds histogram\n");
    for (int k = 0; k < s->n_ticket_tenants; k++) {
        const kb_ticket_histogram *h = &s->tickets[k];
        uint64_t sum = 0;
        for (int i = 0; i < KB_TICKET_BUCKETS; i++) {
            sum += h->buckets[i];
            text_buf_printf(t, "kb_ticket_seconds_bucket{tenant=\"%s\",le=\"%g\"} %llu\n", h->tenant, kb_ticket_bounds_s[i],
                 (unsigned long long)sum);
        }
        text_buf_printf(t, "kb_ticket_seconds_bucket{tenant=\"%s\",le=\"+Inf\"} %llu\nkb_ticket_seconds_sum{tenant=\"%s\"} %.3f\n"
                 "kb_ticket_seconds_count{tenant=\"%s\"} %llu\n",
             h->tenant, (unsigned long long)h->count, h->tenant, h->sum_s, h->tenant, (unsigned long long)h->count);
    }
    text_buf_printf(t, "# HELP kb_broker_connected 1 while the bridge is connected to the broker.\n"
             "# TYPE kb_broker_connected gauge\nkb_broker_connected %d\n", s->broker_connected);
    text_buf_printf(t, "# HELP kb_broker_reconnects_total Broker connections made after the first.\n"
             "# TYPE kb_broker_reconnects_total counter\nkb_broker_reconnects_total %llu\n",
         (unsigned long long)s->broker_reconnects);
    text_buf_printf(t, "# HELP kb_broker_refusals_total Connection attempts the broker refused in its CONNACK "
             "(e.g. Not authorized).\n"
             "# TYPE kb_broker_refusals_total counter\nkb_broker_refusals_total %llu\n",
         (unsigned long long)s->broker_refusals);
    text_buf_printf(t, "# HELP kb_broker_connect_failures_total Connection attempts that did not reach the broker "
             "(connect failed, or closed before the CONNACK).\n"
             "# TYPE kb_broker_connect_failures_total counter\nkb_broker_connect_failures_total %llu\n",
         (unsigned long long)s->broker_connect_failures);
    text_buf_printf(t, "# HELP kb_journal_ok 1 while the journal is writable.\n# TYPE kb_journal_ok gauge\nkb_journal_ok %d\n",
         s->journal_ok);
    text_buf_printf(t, "# HELP kb_journal_failures_total Failed journal writes or commits.\n"
             "# TYPE kb_journal_failures_total counter\nkb_journal_failures_total %llu\n",
         (unsigned long long)s->journal_failures);
    /* Orders accepted per commit is how well group commit works. */
    text_buf_printf(t, "# HELP kb_journal_commits_total Journal batches committed (one fsync each).\n"
             "# TYPE kb_journal_commits_total counter\nkb_journal_commits_total %llu\n",
         (unsigned long long)journal_commit_count(j));
    text_buf_printf(t, "# HELP kb_journal_memory_bytes Memory SQLite holds (page cache, statements).\n"
             "# TYPE kb_journal_memory_bytes gauge\nkb_journal_memory_bytes %lld\n",
         (long long)journal_memory_used());
    journal_size js;
    if (journal_stats(j, &js) == 0) {
        text_buf_printf(t, "# HELP kb_journal_bytes The journal's file and its WAL on disk.\n"
                 "# TYPE kb_journal_bytes gauge\nkb_journal_bytes %lld\n", (long long)js.bytes);
        text_buf_printf(t, "# HELP kb_journal_rows Rows in the journal's tables.\n# TYPE kb_journal_rows gauge\n"
                 "kb_journal_rows{table=\"orders\"} %lld\nkb_journal_rows{table=\"events\"} %lld\n",
             (long long)js.orders, (long long)js.events);
        text_buf_printf(t, "# HELP kb_journal_oldest_closed_age_seconds Age of the oldest closed order still kept "
                 "(0 if none).\n# TYPE kb_journal_oldest_closed_age_seconds gauge\n"
                 "kb_journal_oldest_closed_age_seconds %.0f\n",
             js.oldest_closed_ms ? (double)(journal_wall_ms() - js.oldest_closed_ms) / 1000.0 : 0.0);
    }
    text_buf_printf(t, "# HELP kb_journal_pruned_total Rows deleted by retention (KB_RETENTION).\n"
             "# TYPE kb_journal_pruned_total counter\nkb_journal_pruned_total{table=\"orders\"} %llu\n"
             "kb_journal_pruned_total{table=\"events\"} %llu\n",
         (unsigned long long)s->pruned_orders, (unsigned long long)s->pruned_events);
    text_buf_printf(t, "# HELP kb_uplink_replayed_events_total Journaled events re-sent to head office.\n"
             "# TYPE kb_uplink_replayed_events_total counter\nkb_uplink_replayed_events_total %llu\n",
         (unsigned long long)s->uplink_replayed);
}
