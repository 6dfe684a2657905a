/* status.c - see status.h. */
#include "status.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

const double kb_latency_bounds_ms[KB_LATENCY_BUCKETS] = {0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000};
const double kb_ticket_bounds_s[KB_TICKET_BUCKETS] = {60, 120, 300, 600, 900, 1200, 1800, 3600};

void status_init(kb_status *s)
{
    memset(s, 0, sizeof *s);
    s->started_at = time(NULL);
    s->journal_ok = 1;
    s->broker = BROKER_CONNECTING;
    s->uplink_link = -1;
    snprintf(s->broker_reason, sizeof s->broker_reason, "no connection attempt has finished yet");
    kb_iso_time(s->broker_since, sizeof s->broker_since);
}

void status_changed(kb_status *s) { s->generation++; }

void status_journal_failed(kb_status *s, const char *why)
{
    s->journal_failures++;
    snprintf(s->journal_error, sizeof s->journal_error, "%s", why);
    if (s->journal_ok) {
        s->journal_ok = 0;
        status_changed(s);
    }
}

int status_journal_recovered(kb_status *s)
{
    if (s->journal_ok) return 0;
    s->journal_ok = 1;
    s->journal_error[0] = '\0';
    status_changed(s);
    return 1;
}

void status_record_ack_latency(kb_status *s, double ms)
{
    for (int i = 0; i < KB_LATENCY_BUCKETS; i++)
        if (ms <= kb_latency_bounds_ms[i]) {
            s->ack_latency_buckets[i]++;
            break;
        }
    s->ack_latency_count++;
    s->ack_latency_sum_ms += ms;
}

void status_set_access(kb_status *s, int synced)
{
    if (s->access_synced == synced) return;
    s->access_synced = synced;
    status_changed(s);
}

void status_set_uplink_link(kb_status *s, const char *name, int up)
{
    if (s->uplink_link == up && strcmp(s->uplink_name, name) == 0) return;
    s->uplink_link = up;
    snprintf(s->uplink_name, sizeof s->uplink_name, "%s", name);
    kb_iso_time(s->uplink_since, sizeof s->uplink_since);
    status_changed(s);
}

void status_record_ticket(kb_status *s, const char *tenant, double ms)
{
    kb_ticket_histogram *h = NULL;
    for (int i = 0; i < s->n_ticket_tenants && !h; i++)
        if (strcmp(s->tickets[i].tenant, tenant) == 0) h = &s->tickets[i];
    if (!h) {
        if (s->n_ticket_tenants == KB_TICKET_TENANTS_MAX) return;
        h = &s->tickets[s->n_ticket_tenants++];
        snprintf(h->tenant, sizeof h->tenant, "%s", tenant);
    }
    double sec = ms / 1000.0;
    for (int i = 0; i < KB_TICKET_BUCKETS; i++)
        if (sec <= kb_ticket_bounds_s[i]) {
            h->buckets[i]++;
            break;
        }
    h->count++;
    h->sum_s += sec;
}
