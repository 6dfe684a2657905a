/* http_server.h - the bridge's HTTP side on KB_HTTP_PORT (libwebsockets):
 * the routes others register (/health, /metrics, /clients, /config.json,
 * the admin API), the web pages from KB_WEB_DIR, and WebSocket upgrades,
 * which go to the one WebSocket handler registered (the legacy gateway on /).
 *
 * A route is a method (GET or POST) and an exact path. Its handler runs on
 * the loop's thread once the request is whole (a POST's body included, at
 * most HTTP_BODY_MAX bytes) and either answers at once or defers: it keeps
 * req->id and calls http_server_reply() later, from the loop, at most once.
 * A deferred request whose connection closes first is forgotten; its later
 * reply is dropped and says so (-1). Answers are written from the WRITEABLE
 * callback; static files go through lws_serve_http_file.
 *
 * Admin routes (HTTP_ROUTE_ADMIN), and the /admin page, answer only on the
 * address KB_ADMIN_BIND names (all, if it is empty): a request that reached
 * the bridge on another of the machine's addresses gets 404. Only public
 * routes (HTTP_ROUTE_CORS) carry access-control-allow-origin. */
#ifndef KB_HTTP_SERVER_H
#define KB_HTTP_SERVER_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_BODY_MAX (64 * 1024)

typedef struct http_server http_server;

/* What a handler sees; every string is "" when absent. Valid only during
 * the handler's call. */
typedef struct {
    const char *method;  /* "GET" or "POST" */
    const char *path;    /* without the query */
    const char *query;   /* the URI's arguments, '&'-joined, "" if none */
    const char *body;    /* a POST's body, NUL-terminated, body_len bytes */
    size_t body_len;
    const char *cookie;  /* the Cookie header */
    const char *csrf;    /* the x-csrf-token header */
    const char *host;    /* the Host header the client used */
    const char *peer;    /* the client's address */
    uint32_t id;         /* names the request to http_server_reply() */
} http_request;

/* An answer. `body` is taken (malloc'd; NULL for none); status 0 means 200,
 * type NULL means application/json. set_cookie, if set, is one Set-Cookie
 * value, copied. */
typedef struct {
    unsigned status;
    const char *type;
    char *body;
    const char *set_cookie;
} http_response;

enum { HTTP_ANSWERED = 0, HTTP_DEFERRED = 1 };
/* Fills *res and returns HTTP_ANSWERED, or returns HTTP_DEFERRED and calls
 * http_server_reply(req->id) later; -1 if out of memory (the connection is
 * closed). */
typedef int (*http_handler_fn)(void *ctx, const http_request *req, http_response *res);
/* The WebSocket callback reasons of a connection upgraded on this protocol. */
typedef int (*http_ws_fn)(void *ctx, struct lws *wsi, enum lws_callback_reasons reason, void *in, size_t len);

enum { HTTP_ROUTE_CORS = 1, HTTP_ROUTE_ADMIN = 2 };

/* Serves files from web_dir (copied); admin_bind ("" for all) is copied.
 * NULL if out of memory. */
http_server *http_server_new(const char *web_dir, const char *admin_bind);
void http_server_free(http_server *srv);
/* method "GET" or "POST", an exact path, HTTP_ROUTE_* flags. 0, or -1 (too
 * many routes, out of memory). */
int http_server_route(http_server *srv, const char *method, const char *path, int flags, http_handler_fn fn,
                      void *ctx);
/* Answers deferred request `id` (res->body taken in every case): 0, or -1
 * if its connection has gone. */
int http_server_reply(http_server *srv, uint32_t id, http_response *res);
void http_server_on_websocket(http_server *srv, http_ws_fn fn, void *ctx);
/* The protocol to list at index 0 of the context (lws hands WebSocket
 * upgrades without a subprotocol to index 0). */
struct lws_protocols http_server_protocol(http_server *srv);

#endif
