/* status.c - see status.h. */
#include "status.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

const double kb_latency_bounds_ms[KB_LATENCY_BUCKETS] = {0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000};

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
