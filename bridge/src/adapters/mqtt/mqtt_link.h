/* mqtt_link.h - the bridge's one libmosquitto connection, run inside the
 * libwebsockets event loop, knowing nothing of orders.
 *
 * libwebsockets owns the loop. After each (blocking, loopback) connect, a
 * dup() of libmosquitto's socket is adopted as a RAW file descriptor; its
 * RX/WRITEABLE callbacks drive mosquitto_loop_read/write, and mqtt_link_tick
 * (the app's 100 ms tick) drives mosquitto_loop_misc and reconnects with
 * capped backoff. The session is persistent (MQTT v5, clean start off), so
 * requests sent while the bridge is down wait in the broker for it.
 *
 * A broker that refuses the bridge's login, or cannot be reached, is
 * retried with a doubling backoff (100 ms up to 5 s refused, 2 s
 * unreachable); the state, reason and counts go to the status registry,
 * and each change is logged once, then a reminder with a count every
 * minute. While refused, the password file is read again before each
 * attempt.
 *
 * Others register what they need, before the first tick:
 * - routes: a topic filter and a handler. Every route is subscribed, in
 *   registration order, at each connect; a message goes to the first route
 *   whose filter matches, called from the read callback.
 * - on-connect observers, called in registration order after the
 *   subscriptions of each connect: the order of reconnect steps is the
 *   order the app registers them in.
 * - after-batch observers, called after each read of every packet the
 *   socket held, once its publishes are written: the group commit.
 * - one delivered callback, for each PUBACK (the message id).
 * Handlers borrow their arguments for the call only. */
#ifndef KB_MQTT_LINK_H
#define KB_MQTT_LINK_H

#include <libwebsockets.h>
#include <stddef.h>

#include "config.h"
#include "status.h"

#define MQTT_LINK_PROTOCOL_NAME "kb-mqtt-link"

typedef struct mqtt_link mqtt_link;
typedef void (*mqtt_route_fn)(void *ctx, const char *topic, const void *payload, size_t len, int retained);
typedef void (*mqtt_event_fn)(void *ctx);
typedef void (*mqtt_delivered_fn)(void *ctx, int mid);

/* Borrows config (the password is re-read into it while refused), status
 * and the vhost its socket is adopted into. Connects from the first tick.
 * NULL if out of memory. */
mqtt_link *mqtt_link_new(kb_config *config, kb_status *status, struct lws_vhost *vhost);
/* Publishes the will itself (a chosen disconnect suppresses it), says
 * goodbye, frees everything. */
void mqtt_link_free(mqtt_link *l);

/* no_local: the bridge's own publishes on that filter do not come back.
 * 0, or -1 (too many routes, out of memory). */
int mqtt_link_route(mqtt_link *l, const char *filter, int no_local, mqtt_route_fn fn, void *ctx);
int mqtt_link_on_connect(mqtt_link *l, mqtt_event_fn fn, void *ctx);
int mqtt_link_after_batch(mqtt_link *l, mqtt_event_fn fn, void *ctx);
void mqtt_link_on_delivered(mqtt_link *l, mqtt_delivered_fn fn, void *ctx);
/* The retained message the broker publishes if the bridge goes away. */
int mqtt_link_set_will(mqtt_link *l, const char *topic, const char *payload);

/* Keepalive and reconnects; call every tick. */
void mqtt_link_tick(mqtt_link *l);
/* QoS 1 publish; *mid (may be NULL) gets the message id. 0, or -1. While
 * disconnected the message waits in libmosquitto's queue (0). */
int mqtt_link_publish(mqtt_link *l, const char *topic, const void *payload, size_t len, int retain, int *mid);
int mqtt_link_connected(const mqtt_link *l);

/* The RAW protocol the adopted socket uses; the app lists it in its context. */
extern const struct lws_protocols mqtt_link_protocol;

#endif
