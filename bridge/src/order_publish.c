/* order_publish.c - see order_publish.h. */
#include "order_publish.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "legacy_gateway.h"
#include "log.h"
#include "mqtt_link.h"
#include "topics.h"

int order_publish_state(bridge *b, const char *tenant, const char *order_number, const char *doc,
                        int *mid)
{
    char topic[TOPIC_MAX];
    if (topic_order(topic, sizeof topic, tenant, order_number)) return -1;
    return mqtt_link_publish(b, topic, doc, doc ? strlen(doc) : 0, 1, mid);
}

int order_publish_event(bridge *b, const char *tenant, const char *event_doc)
{
    char topic[TOPIC_MAX];
    if (topic_events(topic, sizeof topic, tenant)) return -1;
    return mqtt_link_publish(b, topic, event_doc, strlen(event_doc), 0, NULL);
}

static void send_ack(bridge *b, const char *tenant, device_role role, const char *device, cJSON *ack,
                     uint32_t reply)
{
    if (reply) {
        legacy_gateway_send_ack(b, reply, ack);
        return;
    }
    char topic[TOPIC_MAX];
    char *text = cJSON_PrintUnformatted(ack);
    if (text && topic_ack(topic, sizeof topic, tenant, role, device) == 0)
        mqtt_link_publish(b, topic, text, strlen(text), 0, NULL);
    else
        log_error("cannot build an ack for %s (out of memory)", device);
    free(text);
}

void order_publish_ack(bridge *b, const ack_entry *e)
{
    cJSON *ack = cJSON_CreateObject();
    cJSON_AddStringToObject(ack, "order_number", e->order_number);
    cJSON_AddStringToObject(ack, "result", e->duplicate ? "duplicate" : "accepted");
    cJSON_AddNumberToObject(ack, "seq", (double)e->seq);
    cJSON_AddStringToObject(ack, "status", order_status_name(e->status));
    send_ack(b, e->tenant, e->role, e->device, ack, e->reply);
    cJSON_Delete(ack);
}

void order_publish_rejection(bridge *b, const char *tenant, device_role role, const char *device,
                             const order_rejection *rej, uint32_t reply)
{
    cJSON *ack = cJSON_CreateObject();
    if (rej->order_number[0]) cJSON_AddStringToObject(ack, "order_number", rej->order_number);
    else cJSON_AddNullToObject(ack, "order_number");
    cJSON_AddStringToObject(ack, "result", "rejected");
    cJSON_AddStringToObject(ack, "error", kb_error_code(rej->error));
    cJSON_AddStringToObject(ack, "detail", rej->detail);
    send_ack(b, tenant, role, device, ack, reply);
    cJSON_Delete(ack);
}
