/* health_publisher.c - see health_publisher.h. */
#include "health_publisher.h"

#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "topics.h"

/* The retained health while the bridge is away: its will, and its goodbye. */
static const char health_offline[] = "{\"status\":\"offline\",\"broker\":\"disconnected\"}";

struct health_publisher {
    mqtt_link *link;
    const kb_status *status;
    kb_pipeline *pipeline;
    registry *const *registry;
    uint64_t published_generation;
};

health_publisher *health_publisher_new(mqtt_link *link, const kb_status *s, kb_pipeline *p, registry *const *reg)
{
    health_publisher *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    *h = (health_publisher){link, s, p, reg, 0};
    if (mqtt_link_set_will(link, TOPIC_HEALTH, health_offline) != 0) {
        free(h);
        return NULL;
    }
    return h;
}

void health_publisher_free(health_publisher *h) { free(h); }

void health_publisher_publish(void *ctx)
{
    health_publisher *h = ctx;
    int ok;
    h->published_generation = h->status->generation;
    char *doc = health_json(h->status, h->pipeline, *h->registry, &ok);
    if (doc) mqtt_link_publish(h->link, TOPIC_HEALTH, doc, strlen(doc), 1, NULL);
    free(doc);
}

void health_publisher_tick(health_publisher *h)
{
    if (h->status->generation != h->published_generation && mqtt_link_connected(h->link)) health_publisher_publish(h);
}
