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
 * Acks go to the device's ack topic.
 *
 * A kitchen or expo screen's {"order_number": "A-17", "action": "reprint"}
 * on its status topic is not an order change: it goes to the reprint
 * callback (the app's printers), and its answer to the device's ack topic:
 * {"order_number", "action": "reprint", "result": "accepted"} or "rejected"
 * with "error": "reprint" and a "detail" for the cook. */
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
/* A screen's reprint (on the loop, borrowing its arguments): 0, or -1 with
 * err set to a line for the cook. Without one, reprints are rejected. */
typedef int (*mqtt_reprint_fn)(void *ctx, const kb_origin *from, const char *order_number, char *err, size_t errlen);
void mqtt_orders_on_reprint(mqtt_orders *o, mqtt_reprint_fn fn, void *ctx);

#endif
