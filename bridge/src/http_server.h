/* http_server.h - the bridge's HTTP side on KB_HTTP_PORT (libwebsockets):
 * /health, /metrics, /clients, /config.json, the web pages from KB_WEB_DIR,
 * and WebSocket upgrades on / for old clients (legacy_gateway.c). */
#ifndef KB_HTTP_SERVER_H
#define KB_HTTP_SERVER_H

#include "bridge.h"

extern const struct lws_protocols http_server_protocol;

#endif
