/* order_publish.h - where order state, events and acks are published.
 *
 * The retained message on outlet/tenant/<t>/orders/<n> is the canonical
 * current state of an open order; closing an order clears it. Events and
 * acks are plain QoS 1 messages. */
#ifndef KB_ORDER_PUBLISH_H
#define KB_ORDER_PUBLISH_H

#include "bridge.h"

/* Publishes an order's retained state, or clears it when doc is NULL. */
int order_publish_state(bridge *b, const char *tenant, const char *order_number, const char *doc,
                        int *mid);
int order_publish_event(bridge *b, const char *tenant, const char *event_doc);
/* Sends an accepted/duplicate ack for a ready queue entry. */
void order_publish_ack(bridge *b, const ack_entry *e);
/* Sends a rejection to a device's ack topic, or to the legacy WebSocket
 * connection `reply` (see ORDER_REPLY_MQTT). */
void order_publish_rejection(bridge *b, const char *tenant, device_role role, const char *device,
                             const order_rejection *rej, uint32_t reply);

#endif
