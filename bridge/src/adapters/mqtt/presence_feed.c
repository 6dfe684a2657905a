/* presence_feed.c - see presence_feed.h. */
#include "presence_feed.h"

#include <stdlib.h>
#include <string.h>

#include "broker_log.h"
#include "clock.h"
#include "json_util.h"
#include "log.h"
#include "secret.h"
#include "topics.h"

struct presence_feed {
    mqtt_link *link;
    registry *const *registry;
    presence *table;
    presence_changed_fn changed;
    void *ctx;
    char boot[17]; /* this run of the bridge, in the legacy presence it writes */
};

static void publish_legacy(presence_feed *f, const char *topic, int online)
{
    char since[40];
    kb_iso_time(since, sizeof since);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddBoolToObject(doc, "online", online);
    if (online) {
        cJSON_AddStringToObject(doc, "since", since);
        cJSON_AddStringToObject(doc, "page", "legacy");
    }
    cJSON_AddStringToObject(doc, "via", "legacy");
    cJSON_AddStringToObject(doc, "boot", f->boot);
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (text) mqtt_link_publish(f->link, topic, text, strlen(text), 1, NULL);
    free(text);
}

/* A legacy presence of an earlier run of the bridge that still says online. */
static int stale_legacy(const presence_feed *f, const cJSON *doc)
{
    const cJSON *via = cJSON_GetObjectItemCaseSensitive(doc, "via");
    const cJSON *boot = cJSON_GetObjectItemCaseSensitive(doc, "boot");
    return cJSON_IsString(via) && strcmp(via->valuestring, "legacy") == 0 &&
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "online")) &&
           (!cJSON_IsString(boot) || strcmp(boot->valuestring, f->boot) != 0);
}

static void on_presence(void *ctx, const char *topic, const void *payload, size_t len, int retained)
{
    presence_feed *f = ctx;
    topic_info t;
    if (topic_parse(topic, &t) != TOPIC_PRESENCE) return;
    const registry *r = *f->registry;
    const registry_device *d = registry_find_device(r, t.device);
    const registry_tenant *tenant = d ? registry_tenant_of(r, d) : NULL;
    if (!d || strcmp(device_role_name(d->role), t.role) != 0 ||
        strcmp(tenant ? tenant->id : "", t.tenant) != 0)
        return;
    cJSON *doc = len ? json_parse_exact(payload, len) : NULL;
    if (stale_legacy(f, doc)) {
        cJSON_Delete(doc);
        publish_legacy(f, topic, 0); /* its update comes back through here */
        return;
    }
    double now = (double)kb_wall_ms();
    const presence_entry *was = presence_find(f->table, t.device);
    int first = !was || !was->known; /* an address from the broker's log may have come first */
    int changed = presence_update(f->table, t.device, payload, len, now);
    if (changed < 0) {
        cJSON_Delete(doc);
        log_warn("device %s sent a presence message that is not a presence document; ignored", t.device);
        return;
    }
    /* A retained copy read at our (re)connect, or the first word of a device
     * since we started (a copy queued for our session while we were away
     * comes before the retained one): the device came on before. */
    const cJSON *since = cJSON_GetObjectItemCaseSensitive(doc, "since");
    if ((retained || first) && changed && cJSON_IsString(since))
        presence_backdate(f->table, t.device, (double)kb_iso_parse_ms(since->valuestring), now);
    cJSON_Delete(doc);
    if (changed && f->changed) f->changed(f->ctx, t.device, presence_online(f->table, t.device));
}

/* Where a device connected from, as the broker logs it. */
static void on_broker_log(void *ctx, const char *topic, const void *payload, size_t len, int retained)
{
    (void)topic;
    (void)retained;
    presence_feed *f = ctx;
    char address[64], user[REGISTRY_ID_MAX + 1];
    if (broker_log_connected(payload, len, address, sizeof address, user, sizeof user) &&
        registry_find_device(*f->registry, user))
        presence_note_address(f->table, user, address, 0, (double)kb_wall_ms());
}

presence_feed *presence_feed_new(mqtt_link *link, registry *const *reg, presence *table, presence_changed_fn changed,
                                 void *ctx)
{
    presence_feed *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    *f = (presence_feed){link, reg, table, changed, ctx, ""};
    if (secret_hex(f->boot, 8) != 0 || mqtt_link_route(link, TOPIC_SUB_PRESENCE, 0, on_presence, f) ||
        mqtt_link_route(link, TOPIC_SUB_BOARD_PRESENCE, 0, on_presence, f) ||
        mqtt_link_route(link, TOPIC_BROKER_LOG_NOTICE, 0, on_broker_log, f)) {
        free(f);
        return NULL;
    }
    return f;
}

void presence_feed_free(presence_feed *f) { free(f); }

void presence_feed_forget_removed(presence_feed *f, const registry *old)
{
    char topic[TOPIC_MAX];
    for (size_t i = 0; i < old->n_devices; i++) {
        const registry_device *d = &old->devices[i];
        if (d->role == DEVICE_ADMIN || registry_find_device(*f->registry, d->username)) continue;
        const registry_tenant *t = registry_tenant_of(old, d);
        if (topic_presence(topic, sizeof topic, t ? t->id : NULL, d->role, d->username) == 0)
            mqtt_link_publish(f->link, topic, NULL, 0, 1, NULL);
        presence_update(f->table, d->username, NULL, 0, (double)kb_wall_ms());
    }
}

void presence_feed_publish_legacy(presence_feed *f, const char *tenant, device_role role, const char *device,
                                  int online)
{
    char topic[TOPIC_MAX];
    if (topic_presence(topic, sizeof topic, tenant, role, device) == 0) publish_legacy(f, topic, online);
}
