/* http_server.c - see http_server.h.
 *
 * Each connection's session holds one request at a time: its path and body
 * while it arrives, then its answer while it is written (headers in one
 * WRITEABLE callback, the body in chunks after). A deferred request is in
 * `pending` (id -> connection) until it is answered or its connection
 * closes; ids are never reused, so a late reply finds nothing. Paths are
 * checked before they touch the file system: only [A-Za-z0-9._/-], no "..". */
#include "http_server.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "charset.h"

#define ROUTES_MAX 40
#define PENDING_MAX 64
#define PATH_MAX_LEN 200

typedef struct {
    char method[5];
    char *path;
    int flags;
    http_handler_fn fn;
    void *ctx;
} http_route;

typedef struct {
    uint32_t id;
    struct lws *wsi;
} pending_request;

struct http_server {
    char *web_dir;
    char admin_bind[64];
    http_route routes[ROUTES_MAX];
    int n_routes;
    pending_request pending[PENDING_MAX];
    uint32_t next_id;
    http_ws_fn ws;
    void *ws_ctx;
};

typedef struct {
    int route;           /* the request's route while its body arrives, -1 none */
    uint32_t id;         /* while deferred */
    char path[PATH_MAX_LEN + 1];
    char *body;
    size_t body_len;
    int too_big;
    /* the answer being written */
    unsigned status;
    const char *type;
    char *set_cookie;
    int cors, answering, headers_sent;
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

static void session_reset(http_session *s)
{
    free(s->body);
    free(s->buf);
    free(s->set_cookie);
    memset(s, 0, sizeof *s);
    s->route = -1;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
                                       (int)strlen(value), p, end);
}

/* Queues an answer (res->body taken) for the WRITEABLE callback. */
static int respond(struct lws *wsi, http_session *s, http_response *res, int cors)
{
    size_t len = res->body ? strlen(res->body) : 0;
    s->buf = malloc(LWS_PRE + len + 1);
    s->set_cookie = res->set_cookie ? strdup(res->set_cookie) : NULL;
    if (!s->buf || (res->set_cookie && !s->set_cookie)) {
        free(res->body);
        return -1;
    }
    memcpy(s->buf + LWS_PRE, res->body ? res->body : "", len);
    free(res->body);
    res->body = NULL;
    s->len = len;
    s->sent = 0;
    s->status = res->status ? res->status : HTTP_STATUS_OK;
    s->type = res->type ? res->type : "application/json";
    s->cors = cors;
    s->answering = 1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int respond_text(struct lws *wsi, http_session *s, unsigned status, const char *text)
{
    http_response res = {status, "text/plain; charset=utf-8", strdup(text), NULL};
    return res.body ? respond(wsi, s, &res, 1) : -1;
}

static int write_headers(struct lws *wsi, http_session *s)
{
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    if (lws_add_http_common_headers(wsi, s->status, s->type, s->len, &p, end) ||
        add_header(wsi, "cache-control:", "no-store", &p, end) ||
        (s->cors && add_header(wsi, "access-control-allow-origin:", "*", &p, end)) ||
        add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
        (s->set_cookie && add_header(wsi, "set-cookie:", s->set_cookie, &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    s->headers_sent = 1;
    return 0;
}

static int write_body(struct lws *wsi, http_session *s)
{
    if (!s->answering) return 0;
    if (!s->headers_sent) {
        if (write_headers(wsi, s)) return -1;
        lws_callback_on_writable(wsi);
        return 0;
    }
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
    session_reset(s);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int path_safe(const char *uri)
{
    return uri[0] == '/' && !strstr(uri, "..") && !strstr(uri, "//") &&
           charset_is(uri, 199, CHARSET_LOWER | CHARSET_UPPER | CHARSET_DIGITS, "._-/");
}

/* 1 if the request reached us on the address admin routes answer on. */
static int on_admin_address(const http_server *srv, struct lws *wsi)
{
    if (!srv->admin_bind[0]) return 1;
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    char addr[INET_ADDRSTRLEN];
    if (getsockname(lws_get_socket_fd(wsi), (struct sockaddr *)&local, &len) != 0 || local.sin_family != AF_INET ||
        !inet_ntop(AF_INET, &local.sin_addr, addr, sizeof addr))
        return 0;
    return strcmp(addr, srv->admin_bind) == 0;
}

static int serve_file(struct lws *wsi, http_session *s, const http_server *srv, const char *uri)
{
    static const struct {
        const char *uri, *file;
    } pages[] = {{"/", "/index.html"},       {"/kitchen", "/kitchen.html"}, {"/pos", "/pos.html"},
                 {"/board", "/board.html"},  {"/admin", "/admin.html"},     {"/pair", "/pair.html"}};
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++)
        if (strcmp(uri, pages[i].uri) == 0) uri = pages[i].file;
    char path[1024 + 256];
    struct stat st;
    const char *type = mime_for(uri);
    if (!path_safe(uri) || !type || (strcmp(uri, "/admin.html") == 0 && !on_admin_address(srv, wsi)) ||
        snprintf(path, sizeof path, "%s%s", srv->web_dir, uri) >= (int)sizeof path || stat(path, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return respond_text(wsi, s, HTTP_STATUS_NOT_FOUND, "not found\n");
    int n = lws_serve_http_file(wsi, path, type, NULL, 0);
    if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi))) return -1;
    return 0;
}

/* A header's value, "" if absent or too long for buf. */
static const char *header(struct lws *wsi, enum lws_token_indexes token, char *buf, int len)
{
    buf[0] = '\0';
    if (lws_hdr_total_length(wsi, token) < len) lws_hdr_copy(wsi, buf, len, token);
    return buf;
}

static void query_of(struct lws *wsi, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    char frag[256];
    for (int i = 0; lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", used ? "&" : "", frag);
        if (n < 0 || (size_t)n >= len - used) {
            buf[used] = '\0';
            return;
        }
        used += (size_t)n;
    }
}

static void forget_pending(http_server *srv, struct lws *wsi)
{
    for (int i = 0; i < PENDING_MAX; i++)
        if (srv->pending[i].wsi == wsi) srv->pending[i] = (pending_request){0, NULL};
}

/* Runs route r's handler on the whole request. */
static int dispatch(struct lws *wsi, http_session *s, http_server *srv, int r)
{
    const http_route *route = &srv->routes[r];
    char query[512], cookie[1024], csrf[128], host[256], peer[64];
    query_of(wsi, query, sizeof query);
    csrf[0] = '\0';
    if (lws_hdr_custom_length(wsi, "x-csrf-token:", 13) > 0 &&
        lws_hdr_custom_copy(wsi, csrf, sizeof csrf, "x-csrf-token:", 13) < 0)
        csrf[0] = '\0';
    lws_get_peer_simple(wsi, peer, sizeof peer);
    uint32_t id = ++srv->next_id ? srv->next_id : ++srv->next_id;
    http_request req = {route->method, s->path, query, s->body ? s->body : "", s->body_len,
                        header(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof cookie), csrf,
                        header(wsi, WSI_TOKEN_HOST, host, sizeof host), peer, id};
    http_response res = {0, NULL, NULL, NULL};
    int rc = route->fn(route->ctx, &req, &res);
    free(s->body);
    s->body = NULL;
    if (rc < 0) return -1;
    if (rc == HTTP_ANSWERED) return respond(wsi, s, &res, route->flags & HTTP_ROUTE_CORS);
    for (int i = 0; i < PENDING_MAX; i++)
        if (!srv->pending[i].wsi) {
            srv->pending[i] = (pending_request){id, wsi};
            s->id = id;
            s->route = r;
            return 0;
        }
    return -1; /* cannot happen: a handler defers only while it has room (PENDING_MAX > its own limit) */
}

static int route(struct lws *wsi, http_session *s, http_server *srv, const char *uri)
{
    session_reset(s);
    int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    if (!post && lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return respond_text(wsi, s, HTTP_STATUS_METHOD_NOT_ALLOWED, "only GET and POST are served here\n");
    for (int i = 0; i < srv->n_routes; i++) {
        if (strcmp(uri, srv->routes[i].path) != 0) continue;
        if ((srv->routes[i].flags & HTTP_ROUTE_ADMIN) && !on_admin_address(srv, wsi))
            return respond_text(wsi, s, HTTP_STATUS_NOT_FOUND, "not found\n");
        if (strcmp(srv->routes[i].method, post ? "POST" : "GET") != 0) continue;
        snprintf(s->path, sizeof s->path, "%s", uri);
        char length[24];
        if (post && atol(header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, length, sizeof length)) > 0) {
            s->route = i; /* the body follows */
            return 0;
        }
        return dispatch(wsi, s, srv, i);
    }
    if (post) return respond_text(wsi, s, HTTP_STATUS_NOT_FOUND, "not found\n");
    return serve_file(wsi, s, srv, uri);
}

static int body_chunk(http_session *s, const void *in, size_t len)
{
    if (s->route < 0 || s->too_big) return 0;
    if (s->body_len + len > HTTP_BODY_MAX) {
        s->too_big = 1;
        return 0;
    }
    char *grown = realloc(s->body, s->body_len + len + 1);
    if (!grown) return -1;
    memcpy(grown + s->body_len, in, len);
    s->body = grown;
    s->body_len += len;
    s->body[s->body_len] = '\0';
    return 0;
}

static int body_done(struct lws *wsi, http_session *s, http_server *srv)
{
    if (s->route < 0) return 0;
    if (s->too_big) return respond_text(wsi, s, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, "request body too large\n");
    return dispatch(wsi, s, srv, s->route);
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
    case LWS_CALLBACK_HTTP_BODY:
        return body_chunk(s, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return body_done(wsi, s, srv) ? -1 : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return write_body(wsi, s);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        forget_pending(srv, wsi);
        if (s) session_reset(s);
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

int http_server_reply(http_server *srv, uint32_t id, http_response *res)
{
    for (int i = 0; id && i < PENDING_MAX; i++) {
        if (srv->pending[i].id != id) continue;
        struct lws *wsi = srv->pending[i].wsi;
        srv->pending[i] = (pending_request){0, NULL};
        http_session *s = lws_wsi_user(wsi);
        int cors = s->route >= 0 && (srv->routes[s->route].flags & HTTP_ROUTE_CORS);
        s->id = 0;
        s->route = -1;
        if (respond(wsi, s, res, cors) == 0) return 0;
        lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        return -1;
    }
    free(res->body);
    res->body = NULL;
    return -1;
}

http_server *http_server_new(const char *web_dir, const char *admin_bind)
{
    http_server *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->web_dir = strdup(web_dir);
    snprintf(srv->admin_bind, sizeof srv->admin_bind, "%s", admin_bind ? admin_bind : "");
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

int http_server_route(http_server *srv, const char *method, const char *path, int flags, http_handler_fn fn,
                      void *ctx)
{
    if (srv->n_routes >= ROUTES_MAX || strlen(path) > PATH_MAX_LEN ||
        (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0))
        return -1;
    char *copy = strdup(path);
    if (!copy) return -1;
    http_route *r = &srv->routes[srv->n_routes++];
    *r = (http_route){"", copy, flags, fn, ctx};
    snprintf(r->method, sizeof r->method, "%s", method);
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
