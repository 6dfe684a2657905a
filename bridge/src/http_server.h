/* http_server.h - the bridge's HTTP side on KB_HTTP_PORT (libwebsockets):
 * /health, /metrics, /config.json and the web pages from KB_WEB_DIR. */
#ifndef KB_HTTP_SERVER_H
#define KB_HTTP_SERVER_H

#include "bridge.h"

extern const struct lws_protocols http_server_protocol;

#endif
