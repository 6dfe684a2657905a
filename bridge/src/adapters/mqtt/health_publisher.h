/* health_publisher.h - keeps the health document retained on
 * outlet/bridge/health, reading it (core/health.c), never told to.
 *
 * It publishes at every connect (an on-connect observer, registered after
 * the open orders' re-publish, so a screen that sees "ok" finds the
 * retained view complete) and, from the tick, whenever the status
 * registry's generation moved since its last publish. The link's will and
 * goodbye say {"status":"offline"}. */
#ifndef KB_HEALTH_PUBLISHER_H
#define KB_HEALTH_PUBLISHER_H

#include "mqtt_link.h"
#include "order_pipeline.h"
#include "registry.h"
#include "status.h"

typedef struct health_publisher health_publisher;

/* Sets the link's will. Borrows everything. NULL if out of memory. */
health_publisher *health_publisher_new(mqtt_link *link, const kb_status *s, kb_pipeline *p, registry *const *reg);
void health_publisher_free(health_publisher *h);
/* Publishes now (ctx: the health_publisher): the on-connect observer. */
void health_publisher_publish(void *ctx);
/* Publishes if the status changed and the link is up; call every tick. */
void health_publisher_tick(health_publisher *h);

#endif
