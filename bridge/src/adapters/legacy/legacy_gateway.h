/* legacy_gateway.h - the old sync server's WebSocket protocol on the HTTP
 * port, so clients written for it keep working (docs/LEGACY.md).
 *
 *   ws://<server>:KB_HTTP_PORT/?client-type=kitchen&client-id=K-1
 *        [&username=..&password=..]   (or HTTP Basic; or headers)
 *
 * A legacy connection is identified (registry device, or anonymous in
 * open mode), then its frames are translated by legacy_frames.c (model) and
 * enter the order pipeline as requests of that device, with this gateway's
 * reply callback; the pipeline alone decides and acks, after the commit, on
 * the same connection. Every accepted change, wherever it came from, is
 * fanned out to the legacy clients of its tenant (a pipeline observer).
 *
 * lws 4.1.6 serves a WebSocket upgrade without a subprotocol with the
 * protocol at index 0 ("http", http_server.c), which hands the WebSocket
 * callbacks to the handler the app registers there:
 * legacy_gateway_ws_callback. Each connection has a per-frame
 * size limit, a rate limit (a device over it is read more slowly, never
 * dropped; an anonymous client's extra frames are) and a capped send
 * queue: a client that falls too far behind is dropped, so it never holds
 * up the others. */
#ifndef KB_LEGACY_GATEWAY_H
#define KB_LEGACY_GATEWAY_H

#include <libwebsockets.h>

#include "config.h"
#include "order_pipeline.h"
#include "registry.h"

typedef struct legacy_gateway legacy_gateway;

/* Observes the pipeline and logs the mode (a loud warning in open mode).
 * Borrows everything; *registry is read at each use. NULL if out of memory. */
legacy_gateway *legacy_gateway_new(kb_pipeline *p, registry *const *reg, const kb_config *config,
                                   struct lws_vhost *vhost);
/* Closes every legacy connection and pending credential check. */
void legacy_gateway_free(legacy_gateway *g);
/* The registry was reloaded: drop connections it no longer allows. */
void legacy_gateway_registry_changed(legacy_gateway *g);

/* A registry device's legacy presence changed: its first connection is
 * identified (online 1, address: where it connected from), or its last one
 * closed (online 0, address ""). Anonymous clients have no presence.
 * Called from the loop. */
typedef void (*legacy_presence_fn)(void *ctx, const char *tenant, device_role role, const char *device, int online,
                                   const char *address);
void legacy_gateway_on_presence(legacy_gateway *g, legacy_presence_fn fn, void *ctx);

/* The WebSocket reasons of the "http" protocol (ctx: the gateway). */
int legacy_gateway_ws_callback(void *ctx, struct lws *wsi, enum lws_callback_reasons reason, void *in, size_t len);
/* GET /clients: {"total", "clients": [{"id","type","connectedAt",...}]}. */
char *legacy_gateway_clients_json(legacy_gateway *g);
/* The pipeline's change observer (ctx: the gateway): `doc` is the order as
 * published on MQTT. */
void legacy_gateway_order_changed(void *ctx, const char *tenant, const char *doc, int created);

#endif
