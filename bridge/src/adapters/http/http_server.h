/* http_server.h - the bridge's HTTP side on KB_HTTP_PORT (libwebsockets):
 * the routes others register (/health, /metrics, /clients, /config.json),
 * the web pages from KB_WEB_DIR, and WebSocket upgrades, which go to the
 * one WebSocket handler registered (the legacy gateway on /).
 *
 * Dynamic answers are built whole by their handler, then written from the
 * WRITEABLE callback; static files go through lws_serve_http_file. Only GET
 * is served. Handlers run on the loop's thread, during the request. */
#ifndef KB_HTTP_SERVER_H
#define KB_HTTP_SERVER_H

#include <libwebsockets.h>

typedef struct http_server http_server;
/* Returns the body, malloc'd (taken), or NULL if out of memory (the
 * connection is closed). *status is 200 and *type "application/json"
 * unless the handler sets them. */
typedef char *(*http_handler_fn)(void *ctx, unsigned *status, const char **type);
/* The WebSocket callback reasons of a connection upgraded on this protocol. */
typedef int (*http_ws_fn)(void *ctx, struct lws *wsi, enum lws_callback_reasons reason, void *in, size_t len);

/* Serves files from web_dir (copied). NULL if out of memory. */
http_server *http_server_new(const char *web_dir);
void http_server_free(http_server *srv);
/* An exact path. 0, or -1 (too many routes, out of memory). */
int http_server_route(http_server *srv, const char *path, http_handler_fn fn, void *ctx);
void http_server_on_websocket(http_server *srv, http_ws_fn fn, void *ctx);
/* The protocol to list at index 0 of the context (lws hands WebSocket
 * upgrades without a subprotocol to index 0). */
struct lws_protocols http_server_protocol(http_server *srv);

#endif
