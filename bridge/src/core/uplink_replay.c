/* uplink_replay.c - see uplink_replay.h. */
#include "uplink_replay.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json_util.h"
#include "log.h"
#include "topics.h"

#define REPLAY_BATCH 100
#define CHECK_EVERY_MS 1000.0

typedef struct tenant_lag {
    struct tenant_lag *next;
    char tenant[REGISTRY_ID_MAX + 1];
    int64_t seen;        /* head office's contiguous high-water mark */
    double moved_ms;     /* when `seen` last changed */
    double replayed_ms;  /* when we last re-sent a batch */
} tenant_lag;

struct uplink_replay {
    kb_pipeline *pipeline;
    kb_status *status;
    uplink_publish_fn publish;
    void *publish_ctx;
    tenant_lag *tenants;
    double grace_ms;
    double checked_ms;
};

uplink_replay *uplink_replay_new(kb_pipeline *p, kb_status *s, double grace_ms, uplink_publish_fn publish, void *ctx)
{
    uplink_replay *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    *u = (uplink_replay){.pipeline = p, .status = s, .publish = publish, .publish_ctx = ctx, .grace_ms = grace_ms};
    log_info("uplink replay on: events head office lacks are re-sent after %.0f ms", grace_ms);
    return u;
}

static tenant_lag *find_or_add(uplink_replay *u, const char *tenant)
{
    for (tenant_lag *t = u->tenants; t; t = t->next)
        if (strcmp(t->tenant, tenant) == 0) return t;
    tenant_lag *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    snprintf(t->tenant, sizeof t->tenant, "%s", tenant);
    t->seen = -1;
    t->next = u->tenants;
    u->tenants = t;
    return t;
}

void uplink_replay_on_seen(uplink_replay *u, const char *tenant, const void *payload, size_t len)
{
    if (!u) return;
    cJSON *doc = json_parse_exact(payload, len);
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(doc, "seq");
    /* From outside: beyond 2^53 a double is no longer an exact seq, and a
     * cast of a huge one to int64_t would be undefined. */
    int ok = cJSON_IsNumber(seq) && seq->valuedouble >= 0 && seq->valuedouble <= 9007199254740992.0;
    tenant_lag *t = ok ? find_or_add(u, tenant) : NULL;
    if (t && (int64_t)seq->valuedouble != t->seen) {
        t->seen = (int64_t)seq->valuedouble;
        t->moved_ms = kb_now_ms();
    }
    cJSON_Delete(doc);
}

typedef struct {
    uplink_replay *u;
    const char *topic;
    int sent;
} replay_ctx;

static int replay_one(void *ctx, int64_t seq, const char *doc)
{
    (void)seq;
    replay_ctx *r = ctx;
    if (r->u->publish(r->u->publish_ctx, r->topic, doc) != 0) return 1;
    r->sent++;
    return 0;
}

static void replay_tenant(uplink_replay *u, tenant_lag *t, double now)
{
    if (t->seen < 0) return; /* head office has said nothing about this tenant */
    int64_t last = pipeline_last_seq(u->pipeline, t->tenant);
    double quiet_since = t->moved_ms > t->replayed_ms ? t->moved_ms : t->replayed_ms;
    if (t->seen >= last || now - quiet_since < u->grace_ms) return;
    char topic[TOPIC_MAX];
    topic_uplink_replay(topic, sizeof topic, t->tenant);
    replay_ctx r = {u, topic, 0};
    journal *j = pipeline_journal(u->pipeline);
    if (journal_events_after(j, t->tenant, t->seen, REPLAY_BATCH, replay_one, &r) != 0)
        log_error("uplink replay for %s failed: %s", t->tenant, journal_last_error(j));
    t->replayed_ms = now;
    u->status->uplink_replayed += (uint64_t)r.sent;
    log_info("uplink: head office has %s up to seq %lld of %lld; re-sent %d event%s", t->tenant,
             (long long)t->seen, (long long)last, r.sent, r.sent == 1 ? "" : "s");
}

int64_t uplink_replay_seen(const uplink_replay *u, const char *tenant)
{
    if (!u) return INT64_MAX;
    for (const tenant_lag *t = u->tenants; t; t = t->next)
        if (strcmp(t->tenant, tenant) == 0) return t->seen;
    return -1;
}

void uplink_replay_tick(uplink_replay *u)
{
    if (!u) return;
    double now = kb_now_ms();
    if (now - u->checked_ms < CHECK_EVERY_MS) return;
    u->checked_ms = now;
    for (tenant_lag *t = u->tenants; t; t = t->next) replay_tenant(u, t, now);
}

void uplink_replay_free(uplink_replay *u)
{
    if (!u) return;
    while (u->tenants) {
        tenant_lag *next = u->tenants->next;
        free(u->tenants);
        u->tenants = next;
    }
    free(u);
}
