/* http_server.c - see http_server.h.
 *
 * Dynamic answers are built whole, then written from the WRITEABLE
 * callback; static files go through lws_serve_http_file. Paths are checked
 * before they touch the file system: only [A-Za-z0-9._/-], no "..". */
#include "http_server.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "charset.h"

#define ROUTES_MAX 16

typedef struct {
    char *path;
    http_handler_fn fn;
    void *ctx;
} http_route;

struct http_server {
    char *web_dir;
    http_route routes[ROUTES_MAX];
    int n_routes;
    http_ws_fn ws;
    void *ws_ctx;
};

typedef struct {
    unsigned char *buf; /* LWS_PRE bytes of room, then the body */
    size_t len, sent;
} http_session;

static const struct {
    const char *ext, *type;
} mime_types[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
    {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
    {".ico", "image/x-icon"}, {".webmanifest", "application/manifest+json"}, {".txt", "text/plain; charset=utf-8"},
};

static const char *mime_for(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot)
        for (size_t i = 0; i < sizeof mime_types / sizeof *mime_types; i++)
            if (strcmp(dot, mime_types[i].ext) == 0) return mime_types[i].type;
    return NULL;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
                                       (int)strlen(value), p, end);
}

/* Sends the headers now and queues `body` (taken) for the WRITEABLE callback. */
static int respond(struct lws *wsi, http_session *s, unsigned status, const char *type, char *body)
{
    size_t len = body ? strlen(body) : 0;
    unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    s->buf = malloc(LWS_PRE + len + 1);
    if (!s->buf) {
        free(body);
        return -1;
    }
    memcpy(s->buf + LWS_PRE, body ? body : "", len);
    free(body);
    s->len = len;
    s->sent = 0;
    if (lws_add_http_common_headers(wsi, status, type, len, &p, end) ||
        add_header(wsi, "cache-control:", "no-store", &p, end) ||
        add_header(wsi, "access-control-allow-origin:", "*", &p, end) ||
        add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int respond_text(struct lws *wsi, http_session *s, unsigned status, const char *text)
{
    char *body = strdup(text);
    return body ? respond(wsi, s, status, "text/plain; charset=utf-8", body) : -1;
}

static int path_safe(const char *uri)
{
    return uri[0] == '/' && !strstr(uri, "..") && !strstr(uri, "//") &&
           charset_is(uri, 199, CHARSET_LOWER | CHARSET_UPPER | CHARSET_DIGITS, "._-/");
}

static int serve_file(struct lws *wsi, http_session *s, const http_server *srv, const char *uri)
{
    static const struct {
        const char *uri, *file;
    } pages[] = {{"/", "/index.html"}, {"/kitchen", "/kitchen.html"}, {"/pos", "/pos.html"}, {"/board", "/board.html"}};
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++)
        if (strcmp(uri, pages[i].uri) == 0) uri = pages[i].file;
    char path[1024 + 256];
    struct stat st;
    const char *type = mime_for(uri);
    if (!path_safe(uri) || !type || snprintf(path, sizeof path, "%s%s", srv->web_dir, uri) >= (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return respond_text(wsi, s, HTTP_STATUS_NOT_FOUND, "not found\n");
    int n = lws_serve_http_file(wsi, path, type, NULL, 0);
    if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi))) return -1;
    return 0;
}

static int route(struct lws *wsi, http_session *s, const http_server *srv, const char *uri)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return respond_text(wsi, s, HTTP_STATUS_METHOD_NOT_ALLOWED, "only GET is served here\n");
    for (int i = 0; i < srv->n_routes; i++) {
        if (strcmp(uri, srv->routes[i].path) != 0) continue;
        unsigned status = HTTP_STATUS_OK;
        const char *type = "application/json";
        char *body = srv->routes[i].fn(srv->routes[i].ctx, &status, &type);
        return body ? respond(wsi, s, status, type, body) : -1;
    }
    return serve_file(wsi, s, srv, uri);
}

static int write_body(struct lws *wsi, http_session *s)
{
    if (!s->buf) return 0;
    size_t chunk = s->len - s->sent;
    if (chunk > 16384) chunk = 16384;
    int last = s->sent + chunk == s->len;
    if (lws_write(wsi, s->buf + LWS_PRE + s->sent, chunk, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)chunk)
        return -1;
    s->sent += chunk;
    if (!last) {
        /* lws_write wants LWS_PRE bytes of room before each chunk. */
        memmove(s->buf + LWS_PRE, s->buf + LWS_PRE + s->sent, s->len - s->sent);
        s->len -= s->sent;
        s->sent = 0;
        lws_callback_on_writable(wsi);
        return 0;
    }
    free(s->buf);
    s->buf = NULL;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    http_session *s = user;
    const struct lws_protocols *protocol = lws_get_protocol(wsi);
    http_server *srv = protocol ? protocol->user : NULL;
    if (!srv) return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return route(wsi, s, srv, in) ? -1 : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return write_body(wsi, s);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s) {
            free(s->buf);
            s->buf = NULL;
        }
        return 0;
    /* A WebSocket upgrade without a subprotocol lands on this protocol (index
     * 0): it is an old sync-server client. */
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
        if (!srv->ws) return reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION ? 1 : -1;
        return srv->ws(srv->ws_ctx, wsi, reason, in, len);
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

http_server *http_server_new(const char *web_dir)
{
    http_server *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->web_dir = strdup(web_dir);
    if (!srv->web_dir) {
        free(srv);
        return NULL;
    }
    return srv;
}

void http_server_free(http_server *srv)
{
    if (!srv) return;
    for (int i = 0; i < srv->n_routes; i++) free(srv->routes[i].path);
    free(srv->web_dir);
    free(srv);
}

int http_server_route(http_server *srv, const char *path, http_handler_fn fn, void *ctx)
{
    if (srv->n_routes >= ROUTES_MAX) return -1;
    char *copy = strdup(path);
    if (!copy) return -1;
    srv->routes[srv->n_routes++] = (http_route){copy, fn, ctx};
    return 0;
}

void http_server_on_websocket(http_server *srv, http_ws_fn fn, void *ctx)
{
    srv->ws = fn;
    srv->ws_ctx = ctx;
}

struct lws_protocols http_server_protocol(http_server *srv)
{
    struct lws_protocols p = {"http", http_callback, sizeof(http_session), 0, 0, srv, 0};
    return p;
}
