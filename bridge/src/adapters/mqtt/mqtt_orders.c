/* mqtt_orders.c - see mqtt_orders.h. */
#include "mqtt_orders.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "log.h"
#include "order_stations.h"
#include "order_validate.h"
#include "topics.h"

struct mqtt_orders {
    mqtt_link *link;
    kb_pipeline *pipeline;
    registry *const *registry;
    mqtt_reprint_fn reprint;
    void *reprint_ctx;
};

/* Each station's retained view of the order (the broker lets a station
 * screen read only its own): published after the state, or cleared with it
 * for every station of the tenant. Their PUBACKs are not waited for. */
static void publish_views(mqtt_orders *o, const char *tenant, const char *order_number, const char *doc)
{
    const registry_tenant *t = registry_find_tenant(*o->registry, tenant);
    if (!t || t->n_stations == 0) return;
    cJSON *order = doc ? cJSON_Parse(doc) : NULL;
    char topic[TOPIC_MAX];
    for (int i = 0; i < t->n_stations; i++) {
        const char *s = t->stations[i];
        if (topic_station_order(topic, sizeof topic, tenant, s, order_number)) continue;
        char *view = order ? order_station_view(order, s, t->stations[0]) : NULL;
        if (view || !doc) mqtt_link_publish(o->link, topic, view, view ? strlen(view) : 0, 1, NULL);
        free(view);
    }
    cJSON_Delete(order);
}

/* A closing order's last state, once, on each of its stations' view topics
 * (not retained): a station screen gets no events, and this is how it
 * learns that an order was cancelled (or served) rather than just gone.
 * The retained views are cleared right after, with the state. */
static int publish_closing(void *ctx, const char *tenant, const char *order_number, const char *doc)
{
    mqtt_orders *o = ctx;
    const registry_tenant *t = registry_find_tenant(*o->registry, tenant);
    if (!t || t->n_stations == 0 || !doc) return 0;
    cJSON *order = cJSON_Parse(doc);
    char topic[TOPIC_MAX];
    for (int i = 0; order && i < t->n_stations; i++) {
        char *view = order_station_view(order, t->stations[i], t->stations[0]);
        if (view && topic_station_order(topic, sizeof topic, tenant, t->stations[i], order_number) == 0)
            mqtt_link_publish(o->link, topic, view, strlen(view), 0, NULL);
        free(view);
    }
    cJSON_Delete(order);
    return 0;
}

static int publish_state(void *ctx, const char *tenant, const char *order_number, const char *doc, int *delivery)
{
    mqtt_orders *o = ctx;
    char topic[TOPIC_MAX];
    if (topic_order(topic, sizeof topic, tenant, order_number)) return -1;
    if (mqtt_link_publish(o->link, topic, doc, doc ? strlen(doc) : 0, 1, delivery) != 0) return -1;
    publish_views(o, tenant, order_number, doc);
    return 0;
}

static int publish_event(void *ctx, const char *tenant, const char *event_doc)
{
    mqtt_orders *o = ctx;
    char topic[TOPIC_MAX];
    if (topic_events(topic, sizeof topic, tenant)) return -1;
    return mqtt_link_publish(o->link, topic, event_doc, strlen(event_doc), 0, NULL);
}

static void reply(void *ctx, const kb_origin *from, const kb_ack *ack)
{
    mqtt_orders *o = ctx;
    char topic[TOPIC_MAX];
    cJSON *doc = kb_ack_json(ack);
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    if (text && topic_ack(topic, sizeof topic, from->tenant, from->role, from->device) == 0)
        mqtt_link_publish(o->link, topic, text, strlen(text), 0, NULL);
    else
        log_error("cannot build an ack for %s (out of memory)", from->device);
    free(text);
    cJSON_Delete(doc);
}

/* 1 if a screen's message was a reprint (answered here), 0 if it is for
 * the pipeline. */
static int screen_reprint(mqtt_orders *o, const kb_origin *from, const void *payload, size_t len)
{
    cJSON *doc = json_parse_exact(payload, len);
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(doc, "action");
    if (!cJSON_IsString(action) || strcmp(action->valuestring, "reprint") != 0) {
        cJSON_Delete(doc);
        return 0;
    }
    const cJSON *number = cJSON_GetObjectItemCaseSensitive(doc, "order_number");
    char err[200] = "", topic[TOPIC_MAX];
    int rc;
    if (!cJSON_IsString(number) || !order_number_valid(number->valuestring)) {
        snprintf(err, sizeof err, "order_number must be 1-64 characters of A-Z a-z 0-9 . _ -");
        rc = -1;
    } else if (!o->reprint) {
        snprintf(err, sizeof err, "this bridge has no printers");
        rc = -1;
    } else {
        rc = o->reprint(o->reprint_ctx, from, number->valuestring, err, sizeof err);
    }
    cJSON *ack = cJSON_CreateObject();
    if (cJSON_IsString(number)) cJSON_AddStringToObject(ack, "order_number", number->valuestring);
    else cJSON_AddNullToObject(ack, "order_number");
    cJSON_AddStringToObject(ack, "action", "reprint");
    cJSON_AddStringToObject(ack, "result", rc == 0 ? "accepted" : "rejected");
    if (rc != 0) {
        cJSON_AddStringToObject(ack, "error", "reprint");
        cJSON_AddStringToObject(ack, "detail", err);
    }
    char *text = cJSON_PrintUnformatted(ack);
    if (text && topic_ack(topic, sizeof topic, from->tenant, from->role, from->device) == 0)
        mqtt_link_publish(o->link, topic, text, strlen(text), 0, NULL);
    free(text);
    cJSON_Delete(ack);
    cJSON_Delete(doc);
    return 1;
}

static void on_request(void *ctx, const char *topic, const void *payload, size_t len, int retained)
{
    (void)retained;
    mqtt_orders *o = ctx;
    topic_info t;
    topic_kind kind = topic_parse(topic, &t);
    if (kind != TOPIC_POS_SUBMIT && kind != TOPIC_KITCHEN_STATUS && kind != TOPIC_EXPO_STATUS) return;
    kb_origin from;
    if (pipeline_origin(o->pipeline, t.tenant, t.device, &from) != 0) {
        /* The broker's ACLs make this impossible for a registered device; a
         * device removed from the registry a moment ago may still get here. */
        log_warn("ignored a message from %s on tenant %s: not a device of that tenant", t.device, t.tenant);
        return;
    }
    from.reply = reply;
    from.reply_ctx = o;
    if (kind != TOPIC_POS_SUBMIT && screen_reprint(o, &from, payload, len)) return;
    pipeline_submit(o->pipeline, &from, payload, len);
}

static void on_retained_state(void *ctx, const char *topic, const void *payload, size_t len, int retained)
{
    mqtt_orders *o = ctx;
    topic_info t;
    if (retained && topic_parse(topic, &t) == TOPIC_ORDER_STATE)
        pipeline_reconcile(o->pipeline, t.tenant, t.order_number, payload, len);
}

/* A station's view the broker holds: cleared if the journal has no open
 * order with that seq and a part for that station, re-published if stale. */
static void on_retained_view(void *ctx, const char *topic, const void *payload, size_t len, int retained)
{
    mqtt_orders *o = ctx;
    topic_info t;
    if (!retained || len == 0 || topic_parse(topic, &t) != TOPIC_STATION_VIEW) return;
    const registry_tenant *rt = registry_find_tenant(*o->registry, t.tenant);
    journal_order cur = {0};
    int found = journal_get_order(pipeline_journal(o->pipeline), t.tenant, t.order_number, &cur);
    if (found < 0) return;
    cJSON *order = found && order_status_is_open(cur.status) ? cJSON_Parse(cur.doc) : NULL;
    int has_part = rt && rt->n_stations && order_station_status(order, t.station) != ORDER_STATUS_INVALID;
    cJSON *held = has_part ? cJSON_ParseWithLength(payload, len) : NULL;
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(held, "seq");
    if (!has_part) {
        log_info("clearing stale station view %s/%s/%s", t.tenant, t.station, t.order_number);
        mqtt_link_publish(o->link, topic, NULL, 0, 1, NULL);
    } else if (!cJSON_IsNumber(seq) || (int64_t)seq->valuedouble != cur.seq) {
        char *view = order_station_view(order, t.station, rt->stations[0]);
        if (view) mqtt_link_publish(o->link, topic, view, strlen(view), 1, NULL);
        free(view);
    }
    cJSON_Delete(held);
    cJSON_Delete(order);
    free(cur.doc);
}

static void on_delivered(void *ctx, int mid) { pipeline_delivered(((mqtt_orders *)ctx)->pipeline, mid); }

mqtt_orders *mqtt_orders_new(mqtt_link *link, kb_pipeline *p, registry *const *reg)
{
    mqtt_orders *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->link = link;
    o->pipeline = p;
    o->registry = reg;
    if (mqtt_link_route(link, TOPIC_SUB_SUBMIT, 0, on_request, o) || mqtt_link_route(link, TOPIC_SUB_STATUS, 0, on_request, o) ||
        mqtt_link_route(link, TOPIC_SUB_EXPO_STATUS, 0, on_request, o) ||
        mqtt_link_route(link, TOPIC_SUB_ORDERS, 1, on_retained_state, o) ||
        mqtt_link_route(link, TOPIC_SUB_STATION_VIEWS, 1, on_retained_view, o)) {
        free(o);
        return NULL;
    }
    kb_order_sink sink = {publish_state, publish_event, o, publish_closing};
    pipeline_set_sink(p, &sink);
    mqtt_link_on_delivered(link, on_delivered, o);
    return o;
}

void mqtt_orders_on_reprint(mqtt_orders *o, mqtt_reprint_fn fn, void *ctx)
{
    o->reprint = fn;
    o->reprint_ctx = ctx;
}

void mqtt_orders_free(mqtt_orders *o) { free(o); }
