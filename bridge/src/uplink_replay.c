/* uplink_replay.c - see uplink_replay.h. */
#include "uplink_replay.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "log.h"
#include "mqtt_link.h"
#include "order_service.h"
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

struct uplink_state {
    tenant_lag *tenants;
    double grace_ms;
    double checked_ms;
};

void uplink_replay_init(bridge *b)
{
    const char *on = getenv("KB_UPLINK");
    if (!on || strcmp(on, "1") != 0) return;
    b->uplink = calloc(1, sizeof *b->uplink);
    if (!b->uplink) {
        log_error("out of memory: uplink replay is off");
        return;
    }
    const char *grace = getenv("KB_UPLINK_GRACE_MS");
    b->uplink->grace_ms = grace && atof(grace) > 0 ? atof(grace) : 30000;
    log_info("uplink replay on: events head office lacks are re-sent after %.0f ms", b->uplink->grace_ms);
}

void uplink_replay_on_connect(bridge *b)
{
    if (b->uplink) mosquitto_subscribe_v5(b->mosq, NULL, TOPIC_SUB_UPLINK_SEEN, 1, 0, NULL);
}

static tenant_lag *find_or_add(struct uplink_state *u, const char *tenant)
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

void uplink_replay_on_seen(bridge *b, const char *tenant, const void *payload, size_t len)
{
    if (!b->uplink) return;
    cJSON *doc = json_parse_exact(payload, len);
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(doc, "seq");
    /* From outside: beyond 2^53 a double is no longer an exact seq, and a
     * cast of a huge one to int64_t would be undefined. */
    int ok = cJSON_IsNumber(seq) && seq->valuedouble >= 0 && seq->valuedouble <= 9007199254740992.0;
    tenant_lag *t = ok ? find_or_add(b->uplink, tenant) : NULL;
    if (t && (int64_t)seq->valuedouble != t->seen) {
        t->seen = (int64_t)seq->valuedouble;
        t->moved_ms = bridge_now_ms();
    }
    cJSON_Delete(doc);
}

typedef struct {
    bridge *b;
    const char *topic;
    int sent;
} replay_ctx;

static int replay_one(void *ctx, int64_t seq, const char *doc)
{
    (void)seq;
    replay_ctx *r = ctx;
    if (mqtt_link_publish(r->b, r->topic, doc, strlen(doc), 0, NULL) != 0) return 1;
    r->sent++;
    return 0;
}

static void replay_tenant(bridge *b, tenant_lag *t, double now)
{
    if (t->seen < 0) return; /* head office has said nothing about this tenant */
    int64_t last = order_service_last_seq(b, t->tenant);
    double quiet_since = t->moved_ms > t->replayed_ms ? t->moved_ms : t->replayed_ms;
    if (t->seen >= last || now - quiet_since < b->uplink->grace_ms) return;
    char topic[TOPIC_MAX];
    topic_uplink_replay(topic, sizeof topic, t->tenant);
    replay_ctx r = {b, topic, 0};
    if (journal_events_after(b->journal, t->tenant, t->seen, REPLAY_BATCH, replay_one, &r) != 0)
        log_error("uplink replay for %s failed: %s", t->tenant, journal_last_error(b->journal));
    t->replayed_ms = now;
    b->stats.uplink_replayed += (uint64_t)r.sent;
    log_info("uplink: head office has %s up to seq %lld of %lld; re-sent %d event%s", t->tenant,
             (long long)t->seen, (long long)last, r.sent, r.sent == 1 ? "" : "s");
}

int64_t uplink_replay_seen(bridge *b, const char *tenant)
{
    if (!b->uplink) return INT64_MAX;
    for (tenant_lag *t = b->uplink->tenants; t; t = t->next)
        if (strcmp(t->tenant, tenant) == 0) return t->seen;
    return -1;
}

void uplink_replay_tick(bridge *b)
{
    if (!b->uplink || !b->broker_connected) return;
    double now = bridge_now_ms();
    if (now - b->uplink->checked_ms < CHECK_EVERY_MS) return;
    b->uplink->checked_ms = now;
    for (tenant_lag *t = b->uplink->tenants; t; t = t->next) replay_tenant(b, t, now);
}

void uplink_replay_shutdown(bridge *b)
{
    if (!b->uplink) return;
    while (b->uplink->tenants) {
        tenant_lag *next = b->uplink->tenants->next;
        free(b->uplink->tenants);
        b->uplink->tenants = next;
    }
    free(b->uplink);
    b->uplink = NULL;
}
