/* mqtt_link.h - the bridge's libmosquitto connection, run inside the
 * libwebsockets event loop.
 *
 * libwebsockets owns the loop. After each (blocking, loopback) connect, a
 * dup() of libmosquitto's socket is adopted as a RAW file descriptor; its
 * RX/WRITEABLE callbacks drive mosquitto_loop_read/write, and a periodic
 * tick drives mosquitto_loop_misc and reconnects with capped backoff. The
 * session is persistent (MQTT v5, clean start off), so orders submitted
 * while the bridge is down wait in the broker for it.
 *
 * A broker that refuses the bridge's login, or cannot be reached, is
 * retried with a doubling backoff (100 ms up to 5 s refused, 2 s
 * unreachable); b->link holds the state for /health, and each change is
 * logged once, then a reminder with a count every minute. While refused,
 * the password file is read again before each attempt. */
#ifndef KB_MQTT_LINK_H
#define KB_MQTT_LINK_H

#include <stddef.h>

#include "bridge.h"

int mqtt_link_init(bridge *b);
void mqtt_link_destroy(bridge *b);
/* Called from the bridge's tick: keepalive and reconnects. */
void mqtt_link_tick(bridge *b);
/* QoS 1 publish; *mid (may be NULL) gets the message id. 0 or -1. */
int mqtt_link_publish(bridge *b, const char *topic, const void *payload, size_t len, int retain,
                      int *mid);

extern const struct lws_protocols mqtt_link_protocol;

#endif
