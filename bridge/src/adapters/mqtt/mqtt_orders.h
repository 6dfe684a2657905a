/* mqtt_orders.h - the order pipeline's MQTT face.
 *
 * Routes: a POS's submit and a kitchen's status topic go into the pipeline
 * as requests of that device (the broker's ACLs already tie the topic to
 * the device that may write it); the retained order states the broker
 * holds come back once per connect (no-local: never our own publishes) and
 * go to pipeline_reconcile. The sink: an order's retained state on
 * outlet/tenant/<t>/orders/<n> (the canonical current state of an open
 * order; closing clears it) and its event, both QoS 1; the PUBACK of a
 * state is its delivery confirmation. For a tenant with stations, each
 * station's retained view (only its items) on
 * outlet/tenant/<t>/stations/<s>/orders/<n> follows the state, and comes
 * back for reconcile the same way. Expo devices send on .../expo/<d>/status.
 * Acks go to the device's ack topic. */
#ifndef KB_MQTT_ORDERS_H
#define KB_MQTT_ORDERS_H

#include "mqtt_link.h"
#include "order_pipeline.h"
#include "registry.h"

typedef struct mqtt_orders mqtt_orders;

/* Registers the routes, the sink and the delivered callback. NULL if out
 * of memory. Borrows both. */
mqtt_orders *mqtt_orders_new(mqtt_link *link, kb_pipeline *p, registry *const *reg);
void mqtt_orders_free(mqtt_orders *o);

#endif
