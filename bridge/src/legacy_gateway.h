/* legacy_gateway.h - the old sync server's WebSocket protocol on the HTTP
 * port, so clients written for it keep working (docs/LEGACY.md).
 *
 *   ws://<server>:KB_HTTP_PORT/?client-type=kitchen&client-id=K-1
 *        [&username=..&password=..]   (or HTTP Basic; or headers)
 *
 * A legacy connection is identified (registry device, or anonymous in
 * open mode), then its frames are translated by legacy_frames.c and enter
 * the order service like any MQTT message; acks come back to the same
 * connection. Every accepted change, wherever it came from, is fanned out
 * to the legacy clients of its tenant.
 *
 * lws 4.1.6 serves a WebSocket upgrade without a subprotocol with the
 * protocol at index 0 ("http", http_server.c), which hands the WebSocket
 * callbacks to legacy_gateway_ws_callback. Each connection has a per-frame
 * size limit, a rate limit (a device over it is read more slowly, never
 * dropped; an anonymous client's extra frames are) and a capped send
 * queue: a client that falls too far behind is dropped, so it never holds
 * up the others. */
#ifndef KB_LEGACY_GATEWAY_H
#define KB_LEGACY_GATEWAY_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "bridge.h"

/* Logs the mode (a loud warning in open mode). */
void legacy_gateway_start(bridge *b);
/* Closes every legacy connection and pending credential check. */
void legacy_gateway_shutdown(bridge *b);
/* The registry was reloaded: drop connections it no longer allows. */
void legacy_gateway_registry_changed(bridge *b);

/* The WebSocket reasons of the "http" protocol. */
int legacy_gateway_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *in, size_t len);
/* GET /clients: {"total", "clients": [{"id","type","connectedAt",...}]}. */
char *legacy_gateway_clients_json(bridge *b);

/* An accepted change: `doc` is the order as published on MQTT. */
void legacy_gateway_order_changed(bridge *b, const char *tenant, const char *doc, int created);
/* Sends an ack (the MQTT contract's document) to legacy connection `conn`,
 * if it is still there. */
void legacy_gateway_send_ack(bridge *b, uint32_t conn, const cJSON *ack);

/* legacy_auth.c reports a credential check: 1 accepted, 0 refused, -1 the
 * broker could not be asked. */
void legacy_gateway_auth_done(bridge *b, uint32_t conn, int verdict);

#endif
