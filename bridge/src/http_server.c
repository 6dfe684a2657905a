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
#include "health.h"
#include "legacy_gateway.h"

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

static char *config_json(bridge *b)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "mqtt_ws_port", b->config.ws_port);
    cJSON_AddStringToObject(c, "outlet", b->registry->outlet_id);
    cJSON_AddStringToObject(c, "outlet_name", b->registry->outlet_name);
    cJSON_AddStringToObject(c, "version", KB_VERSION);
    cJSON_AddBoolToObject(c, "demo", b->registry->demo);
    char *text = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    return text;
}

static int path_safe(const char *uri)
{
    return uri[0] == '/' && !strstr(uri, "..") && !strstr(uri, "//") &&
           charset_is(uri, 199, CHARSET_LOWER | CHARSET_UPPER | CHARSET_DIGITS, "._-/");
}

static int serve_file(struct lws *wsi, http_session *s, bridge *b, const char *uri)
{
    static const struct {
        const char *uri, *file;
    } pages[] = {{"/", "/index.html"}, {"/kitchen", "/kitchen.html"}, {"/pos", "/pos.html"}};
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++)
        if (strcmp(uri, pages[i].uri) == 0) uri = pages[i].file;
    char path[CONFIG_PATH_MAX + 256];
    struct stat st;
    const char *type = mime_for(uri);
    if (!path_safe(uri) || !type || snprintf(path, sizeof path, "%s%s", b->config.web_dir, uri) >= (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return respond_text(wsi, s, HTTP_STATUS_NOT_FOUND, "not found\n");
    int n = lws_serve_http_file(wsi, path, type, NULL, 0);
    if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi))) return -1;
    return 0;
}

static int route(struct lws *wsi, http_session *s, bridge *b, const char *uri)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return respond_text(wsi, s, HTTP_STATUS_METHOD_NOT_ALLOWED, "only GET is served here\n");
    if (strcmp(uri, "/health") == 0) {
        int ok;
        char *doc = health_json(b, &ok);
        return doc ? respond(wsi, s, ok ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE, "application/json", doc) : -1;
    }
    if (strcmp(uri, "/metrics") == 0) {
        char *text = metrics_text(b);
        return text ? respond(wsi, s, HTTP_STATUS_OK, "text/plain; version=0.0.4", text) : -1;
    }
    if (strcmp(uri, "/clients") == 0) {
        char *doc = legacy_gateway_clients_json(b);
        return doc ? respond(wsi, s, HTTP_STATUS_OK, "application/json", doc) : -1;
    }
    if (strcmp(uri, "/config.json") == 0) {
        char *doc = config_json(b);
        return doc ? respond(wsi, s, HTTP_STATUS_OK, "application/json", doc) : -1;
    }
    return serve_file(wsi, s, b, uri);
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
    bridge *b = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return route(wsi, s, b, in) ? -1 : 0;
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
        return legacy_gateway_ws_callback(wsi, reason, in, len);
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

const struct lws_protocols http_server_protocol = {"http", http_callback, sizeof(http_session), 0, 0, NULL, 0};
