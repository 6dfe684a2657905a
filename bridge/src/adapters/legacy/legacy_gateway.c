/* legacy_gateway.c - see legacy_gateway.h for what a legacy connection is.
 *
 * A connection's life: ESTABLISHED reads who it is (query parameters, then
 * headers, then HTTP Basic); with credentials its reads are paused while
 * legacy_auth.c asks the broker, then it becomes READY: it gets
 * {"type":"connected"} and, if it is a kitchen, every open order of its
 * tenant as new_order frames. Closing sends the reason in the close frame.
 *
 * Frames go out through a per-connection queue, one lws_write per
 * WRITEABLE callback, so a slow reader only grows its own queue; past
 * QUEUE_MAX_BYTES it is dropped with a close reason.
 *
 * Rate limit (a token bucket per connection). An anonymous client's frames
 * past it are dropped, and a flood is closed. An authenticated device's
 * never are: an old POS flushing its offline queue does not retry, so the
 * limit slows the connection down instead. When its bucket runs dry the
 * gateway stops reading (lws_rx_flow_control 0), TCP pushes back on the
 * sender, and the `refill` timer resumes reading once RESUME_TOKENS have
 * come back. lws 4.1.6 keeps what it had already read from the socket
 * (the rest of that read, up to the protocol's rx buffer) in its rxflow
 * buflist and delivers it after reads resume; should it deliver a message
 * while we are paused, the message waits in the connection's `in` queue
 * (bounded) and is handled, in order, when a token is there. */
#include "legacy_gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "legacy_auth.h"
#include "legacy_frames.h"
#include "log.h"
#include "order_stations.h"

#define CONN_MAX 512
#define QUEUE_MAX_BYTES (4u << 20) /* far above a kitchen's backlog of open orders */
#define RATE_BURST 60.0            /* frames a client may send at once */
#define RATE_PER_S 20.0            /* and on average (old clients ping every 30 s) */
#define FLOOD_CLOSE_AFTER 300      /* an anonymous client's dropped frames in a row before we hang up */
#define RESUME_TOKENS 5.0          /* a paused device is read again once it may send this many */
#define IN_MAX_FRAMES 256          /* messages of a paused device waiting for a token... */
#define IN_MAX_BYTES (2u << 20)    /* ...and their bytes; past either it is closed */
#define CLOSE_GRACE_S 3            /* a peer that will not take the close frame */
#define ANON_POS "legacy-pos"      /* the "device" of anonymous clients in events */
#define ANON_KITCHEN "legacy-kitchen"
#define CLOSE_TRY_AGAIN_LATER 1013 /* RFC 6455 registry; lws 4.1.6 has no name for it */

typedef enum { CONN_AUTHENTICATING, CONN_READY, CONN_CLOSING } conn_state;

typedef struct out_msg {
    struct out_msg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes of room, then the frame */
} out_msg;

/* A complete message of a paused device, waiting for a token; owns text. */
typedef struct in_msg {
    struct in_msg *next;
    char *text; /* NULL if empty or oversize */
    size_t len;
    int binary, oversize;
} in_msg;

typedef struct legacy_conn {
    struct legacy_conn *next;
    legacy_gateway *gw;
    struct lws *wsi;
    uint32_t id;
    conn_state state;
    device_role role;
    int anonymous;
    char device[REGISTRY_ID_MAX + 1]; /* registry username, or ANON_* */
    char station[REGISTRY_ID_MAX + 1]; /* a kitchen bound to one station: it sees only that; "" if none */
    char tenant[REGISTRY_ID_MAX + 1]; /* "" = every tenant (anonymous, none declared) */
    char client_id[LEGACY_CLIENT_ID_MAX + 1];
    char connected_at[32];
    char *rx; /* the message being assembled from fragments */
    size_t rx_len;
    int rx_oversize;
    out_msg *head, *tail;
    size_t queued;
    double tokens, refilled_ms, last_limit_error_ms;
    unsigned dropped_in_row;
    int rx_paused;                   /* reads stopped by the rate limit */
    in_msg *in_head, *in_tail;       /* delivered while paused, oldest first */
    size_t in_count, in_bytes;
    lws_sorted_usec_list_t refill;   /* scheduled while rx_paused; see on_refill */
    int close_code, close_sent;
    char close_reason[100];
    int was_ready; /* identified once: counts for its device's presence until it is freed */
} legacy_conn;

struct legacy_gateway {
    kb_pipeline *pipeline;
    registry *const *registry;
    legacy_auth *auth;
    legacy_conn *conns;
    int n_conns;
    uint32_t last_id;
    legacy_presence_fn presence;
    void *presence_ctx;
};

/* 1 if another identified connection than `c` speaks for c's device. */
static int device_has_other(const legacy_gateway *g, const legacy_conn *c)
{
    for (const legacy_conn *o = g->conns; o; o = o->next)
        if (o != c && o->was_ready && !o->anonymous && strcmp(o->device, c->device) == 0) return 1;
    return 0;
}

/* Tells the presence observer when c is its device's first or last connection. */
static void tell_presence(legacy_gateway *g, legacy_conn *c, int online)
{
    if (!g->presence || c->anonymous || !c->tenant[0] || device_has_other(g, c)) return;
    char address[64] = "";
    if (online) lws_get_peer_simple(c->wsi, address, sizeof address);
    g->presence(g->presence_ctx, c->tenant, c->role, c->device, online, address);
}

void legacy_gateway_on_presence(legacy_gateway *g, legacy_presence_fn fn, void *ctx)
{
    g->presence = fn;
    g->presence_ctx = ctx;
}

static legacy_conn *find_conn(legacy_gateway *g, uint64_t id)
{
    for (legacy_conn *c = g->conns; c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

static void free_queue(legacy_conn *c)
{
    while (c->head) {
        out_msg *m = c->head;
        c->head = m->next;
        free(m);
    }
    c->tail = NULL;
    c->queued = 0;
}

static void free_in_queue(legacy_conn *c)
{
    while (c->in_head) {
        in_msg *m = c->in_head;
        c->in_head = m->next;
        free(m->text);
        free(m);
    }
    c->in_tail = NULL;
    c->in_count = c->in_bytes = 0;
}

/* Reads again (the rate limit's pause is over, or we are closing). May be
 * called outside a callback on this wsi, hence PROCESS_NOW. */
static void resume_rx(legacy_conn *c)
{
    lws_sul_cancel(&c->refill);
    if (!c->rx_paused) return;
    c->rx_paused = 0;
    lws_rx_flow_control(c->wsi, 1 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
}

/* Sends what is queued, then closes with `code` and `reason` (a close
 * frame; the client's onclose sees both). `flush` = 0 drops the queue.
 * Frames still waiting for a token are dropped, and reads resume so that
 * lws sees the peer's answer to our close frame. */
static void close_conn(legacy_conn *c, int code, const char *reason, int flush)
{
    if (c->state == CONN_CLOSING) return;
    log_info("legacy %s %s: closing (%d %s)", device_role_name(c->role), c->client_id, code, reason);
    c->state = CONN_CLOSING;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    if (!flush) free_queue(c);
    free_in_queue(c);
    resume_rx(c);
    lws_callback_on_writable(c->wsi);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, CLOSE_GRACE_S);
}

static int on_writeable(legacy_conn *c);

/* Copies a frame into the connection's send queue (the one copy, after
 * LWS_PRE bytes for libwebsockets' header). A frame alone in the queue of
 * a socket that can take it now is written at once rather than on the next
 * POLLOUT, which comes after the batch's commit and the broker's PUBACKs
 * (docs/BENCHMARKS.md "The legacy gateway against the old server"):
 * lws_send_pipe_choked() says no partial write is pending and the socket
 * is writable, the condition libwebsockets sets for a write outside the
 * WRITEABLE callback. */
static void queue_frame(legacy_conn *c, const char *frame, size_t len)
{
    if (c->state == CONN_CLOSING) return;
    if (c->queued + len > QUEUE_MAX_BYTES) {
        close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too slow: fell too far behind, reconnect", 0);
        return;
    }
    out_msg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m) {
        close_conn(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory", 0);
        return;
    }
    memcpy(m->buf + LWS_PRE, frame, len);
    m->len = len;
    m->next = NULL;
    if (c->tail) c->tail->next = m;
    else c->head = m;
    c->tail = m;
    c->queued += len;
    if (c->head == m && c->state == CONN_READY && !lws_send_pipe_choked(c->wsi)) {
        if (on_writeable(c) != 0) close_conn(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "write failed", 0);
        return;
    }
    lws_callback_on_writable(c->wsi);
}

/* Queues a frame built for this connection, and frees it. */
static void send_frame(legacy_conn *c, char *frame)
{
    if (frame) queue_frame(c, frame, strlen(frame));
    else log_error("legacy %s: out of memory building a frame", c->client_id);
    free(frame);
}

static void send_error(legacy_conn *c, legacy_error e, const char *detail)
{
    char now[32];
    kb_iso_time(now, sizeof now);
    send_frame(c, legacy_frame_error(e, detail, now));
}

/* Writes one queued frame; -1 closes the connection. */
static int on_writeable(legacy_conn *c)
{
    out_msg *m = c->head;
    if (m) {
        c->head = m->next;
        if (!c->head) c->tail = NULL;
        c->queued -= m->len;
        int n = lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
        free(m);
        if (n < 0) return -1;
        if (c->head || c->state == CONN_CLOSING) lws_callback_on_writable(c->wsi);
        return 0;
    }
    /* Once: lws then sends the close frame and reads on until the peer's
     * answer, so that unread input does not turn the close into a reset. */
    if (c->state != CONN_CLOSING || c->close_sent) return 0;
    c->close_sent = 1;
    lws_close_reason(c->wsi, (enum lws_close_status)c->close_code, (unsigned char *)c->close_reason,
                     strlen(c->close_reason));
    return -1;
}

/* Token bucket: adds what came back since the last refill. */
static void refill_tokens(legacy_conn *c)
{
    double now = kb_now_ms();
    c->tokens += (now - c->refilled_ms) * RATE_PER_S / 1000.0;
    if (c->tokens > RATE_BURST) c->tokens = RATE_BURST;
    c->refilled_ms = now;
}

/* 1 if this frame may be handled now (and takes its token). */
static int take_token(legacy_conn *c)
{
    refill_tokens(c);
    if (c->tokens < 1.0) return 0;
    c->tokens -= 1.0;
    return 1;
}

typedef struct {
    legacy_gateway *g;
    legacy_conn *c;
    const char *now;
} backlog_ctx;

/* What connection `c` may see of an order: the document itself, or for a
 * station-bound kitchen its station's view (malloc'd into *owned), NULL if
 * the order has nothing for that station. `order` is the parsed doc, parsed
 * here on first need. */
static const char *visible_doc(legacy_gateway *g, const legacy_conn *c, const char *tenant, const char *doc,
                               cJSON **order, char **owned)
{
    *owned = NULL;
    if (!c->station[0]) return doc;
    const registry_tenant *t = registry_find_tenant(*g->registry, tenant);
    if (!t || t->n_stations == 0) return NULL;
    if (!*order) *order = cJSON_Parse(doc);
    *owned = *order ? order_station_view(*order, c->station, t->stations[0]) : NULL;
    return *owned;
}

static int send_backlog_one(void *ctx, const char *tenant, const char *order_number, const char *doc, int64_t seq)
{
    (void)order_number;
    (void)seq;
    backlog_ctx *k = ctx;
    cJSON *order = NULL;
    char *owned;
    const char *shown = visible_doc(k->g, k->c, tenant, doc, &order, &owned);
    if (shown) send_frame(k->c, legacy_frame_new_order(shown, k->now));
    free(owned);
    cJSON_Delete(order);
    return k->c->state == CONN_CLOSING; /* stop if it could not take them */
}

/* Identified: say so and, to a kitchen, send every open order it may see. */
static void make_ready(legacy_gateway *g, legacy_conn *c)
{
    char now[32];
    kb_iso_time(now, sizeof now);
    c->state = CONN_READY;
    tell_presence(g, c, 1);
    c->was_ready = 1;
    send_frame(c, legacy_frame_connected(c->client_id, device_role_name(c->role), c->anonymous ? NULL : c->device,
                                         c->tenant, now));
    if (c->role == DEVICE_KITCHEN) {
        backlog_ctx k = {g, c, now};
        journal *j = pipeline_journal(g->pipeline);
        if (journal_for_each_open(j, c->tenant[0] ? c->tenant : NULL, send_backlog_one, &k) != 0 &&
            c->state != CONN_CLOSING)
            log_error("legacy %s: cannot read the open orders: %s", c->client_id, journal_last_error(j));
    }
    log_info("legacy %s %s connected (%s, tenant %s)", device_role_name(c->role), c->client_id,
             c->anonymous ? "anonymous" : c->device, c->tenant[0] ? c->tenant : "all");
}

/* legacy_auth's verdict on connection `conn`. */
static void auth_done(void *ctx, uint32_t conn, int verdict)
{
    legacy_gateway *g = ctx;
    legacy_conn *c = find_conn(g, conn);
    if (!c || c->state != CONN_AUTHENTICATING) return;
    /* Reads resume either way: frames held back while we asked the broker,
     * or the peer's answer to our close frame. */
    lws_rx_flow_control(c->wsi, 1 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
    const registry_device *dev = registry_find_device((*g->registry), c->device);
    if (verdict < 0) {
        close_conn(c, CLOSE_TRY_AGAIN_LATER, "cannot check credentials now; try again", 0);
        return;
    }
    const registry_tenant *t = dev ? registry_tenant_of(*g->registry, dev) : NULL;
    if (!verdict || !t || dev->role != c->role) {
        close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "unauthorized: wrong username or password", 0);
        return;
    }
    snprintf(c->tenant, sizeof c->tenant, "%s", t->id);
    const char *station = registry_device_station(*g->registry, dev);
    snprintf(c->station, sizeof c->station, "%s", station ? station : "");
    make_ready(g, c);
}

/* Copies src into out[len]; a value too long becomes "\x01", which no
 * check accepts (truncating could turn a wrong value into a right one). */
static void copy_value(char *out, size_t len, const char *src)
{
    size_t n = strlen(src);
    if (n < len) memcpy(out, src, n + 1);
    else memcpy(out, "\x01", 2);
}

/* A query parameter, else a header of the same name; "" if neither. */
static void get_param(struct lws *wsi, const char *name, char *out, size_t len)
{
    char key[40], buf[320];
    out[0] = '\0';
    snprintf(key, sizeof key, "%s=", name);
    const char *v = lws_get_urlarg_by_name(wsi, key, buf, sizeof buf);
    if (v) {
        copy_value(out, len, v);
        return;
    }
    snprintf(key, sizeof key, "%s:", name);
    if (lws_hdr_custom_length(wsi, key, (int)strlen(key)) > 0 &&
        lws_hdr_custom_copy(wsi, buf, sizeof buf, key, (int)strlen(key)) >= 0)
        copy_value(out, len, buf);
}

/* Username and password from the query, else from HTTP Basic. */
static void get_credentials(struct lws *wsi, char *user, char *pass, size_t len)
{
    get_param(wsi, "username", user, len);
    get_param(wsi, "password", pass, len);
    if (user[0]) return;
    char hdr[512], decoded[384];
    if (lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 || strncmp(hdr, "Basic ", 6) != 0)
        return;
    int n = lws_b64_decode_string(hdr + 6, decoded, sizeof decoded);
    char *colon = n > 0 ? memchr(decoded, ':', (size_t)n) : NULL;
    if (!colon) return;
    *colon = '\0';
    decoded[n < (int)sizeof decoded ? n : (int)sizeof decoded - 1] = '\0';
    copy_value(user, len, decoded);
    copy_value(pass, len, colon + 1);
    memset(decoded, 0, sizeof decoded);
    memset(hdr, 0, sizeof hdr);
}

/* Decides who a new connection is; it ends READY, AUTHENTICATING or CLOSING. */
static void on_established(legacy_gateway *g, legacy_conn *c)
{
    char type[16], id[LEGACY_CLIENT_ID_MAX + 1], tenant[REGISTRY_ID_MAX + 2], user[300], pass[300];
    get_param(c->wsi, "client-type", type, sizeof type);
    get_param(c->wsi, "client-id", id, sizeof id);
    get_param(c->wsi, "tenant", tenant, sizeof tenant);
    get_credentials(c->wsi, user, pass, sizeof user);
    snprintf(c->client_id, sizeof c->client_id, "legacy-%u", c->id);
    int typed = type[0] != '\0';
    if (typed && strcmp(type, "pos") != 0 && strcmp(type, "kitchen") != 0) {
        close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "client-type must be pos or kitchen", 0);
    } else if (id[0] && !legacy_client_id_valid(id)) {
        close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "client-id must be 1-64 characters of A-Z a-z 0-9 . _ : -", 0);
    } else if (g->n_conns > CONN_MAX) {
        close_conn(c, CLOSE_TRY_AGAIN_LATER, "too many legacy connections; try again later", 0);
    } else {
        if (id[0]) memcpy(c->client_id, id, strlen(id) + 1);
        c->role = typed && strcmp(type, "pos") == 0 ? DEVICE_POS : DEVICE_KITCHEN;
        if (user[0]) {
            /* A device: the registry fixes its role and tenant; the broker,
             * which holds the passwords, says whether the password is right. */
            const registry_device *dev = registry_find_device((*g->registry), user);
            if (!dev || (dev->role != DEVICE_POS && dev->role != DEVICE_KITCHEN) || !registry_id_valid(user)) {
                close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "unauthorized: wrong username or password", 0);
            } else if (typed && dev->role != c->role) {
                close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "client-type does not match this device's role", 0);
            } else {
                c->role = dev->role;
                memcpy(c->device, user, strlen(user) + 1);
                c->state = CONN_AUTHENTICATING;
                lws_rx_flow_control(c->wsi, 0);
                if (legacy_auth_start(g->auth, c->id, user, pass) != 0)
                    close_conn(c, CLOSE_TRY_AGAIN_LATER, "cannot check credentials now; try again", 0);
            }
        } else if (!(*g->registry)->legacy_open) {
            close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                       "unauthorized: pass username and password (query parameters or HTTP Basic)", 0);
        } else if (!typed) {
            close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "client-type must be pos or kitchen", 0);
        } else if (tenant[0] && !registry_find_tenant((*g->registry), tenant)) {
            close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "unknown tenant", 0);
        } else {
            c->anonymous = 1;
            snprintf(c->device, sizeof c->device, "%s", c->role == DEVICE_POS ? ANON_POS : ANON_KITCHEN);
            copy_value(c->tenant, sizeof c->tenant, tenant); /* a registry id: it fits */
            make_ready(g, c);
        }
    }
    memset(pass, 0, sizeof pass);
}

/* The tenant whose order `number` is: the connection's own, or for an
 * anonymous client of all tenants, the first that has the order (an open
 * one first). "" if none. */
static void order_tenant(legacy_gateway *g, const legacy_conn *c, const char *number, char *out)
{
    memcpy(out, c->tenant, sizeof c->tenant);
    if (c->tenant[0] || !number[0]) return;
    const char *closed_in = NULL;
    journal *j = pipeline_journal(g->pipeline);
    for (size_t i = 0; i < (*g->registry)->n_tenants; i++) {
        journal_order o = {0};
        const char *t = (*g->registry)->tenants[i].id;
        if (journal_get_order(j, t, number, &o) != 1) continue;
        int open = order_status_is_open(o.status);
        free(o.doc);
        if (open) {
            copy_value(out, REGISTRY_ID_MAX + 1, t);
            return;
        }
        if (!closed_in) closed_in = t;
    }
    if (closed_in) copy_value(out, REGISTRY_ID_MAX + 1, closed_in);
}

/* The answer to a request of connection from->reply_id, if it is still
 * there: it may have gone before its change was durable. */
static void reply(void *ctx, const kb_origin *from, const kb_ack *ack)
{
    legacy_conn *c = find_conn(ctx, from->reply_id);
    if (!c) return;
    char now[32];
    kb_iso_time(now, sizeof now);
    send_frame(c, legacy_frame_ack(ack, now));
}

/* Who a connection speaks as for `tenant`, answered on this connection. A
 * registry device must be one of that tenant (as an MQTT message's sender
 * is); an anonymous client (open mode) is in no registry and speaks as
 * itself. 0, or -1 (logged) if the device may not. */
static int origin_of(legacy_gateway *g, const legacy_conn *c, const char *tenant, kb_origin *o)
{
    if (!c->anonymous && pipeline_origin(g->pipeline, tenant, c->device, o) != 0) {
        log_warn("ignored a legacy frame from %s on tenant %s: not a device of that tenant", c->device, tenant);
        return -1;
    }
    if (c->anonymous) {
        memset(o, 0, sizeof *o);
        snprintf(o->tenant, sizeof o->tenant, "%s", tenant);
        snprintf(o->device, sizeof o->device, "%s", c->device);
        o->role = c->role;
    }
    o->reply = reply;
    o->reply_ctx = g;
    o->reply_id = c->id;
    return 0;
}

static void submit(legacy_gateway *g, legacy_conn *c, const char *tenant, const char *request)
{
    kb_origin o;
    if (origin_of(g, c, tenant, &o) == 0) pipeline_submit(g->pipeline, &o, request, strlen(request));
}

/* A rejection made here, before the pipeline could be asked. It goes to
 * this connection whoever the tenant is (none may be known). */
static void reject_here(legacy_gateway *g, legacy_conn *c, const char *number, kb_error e, const char *detail)
{
    kb_origin o = {.role = c->role, .reply = reply, .reply_ctx = g, .reply_id = c->id};
    snprintf(o.tenant, sizeof o.tenant, "%s", c->tenant);
    snprintf(o.device, sizeof o.device, "%s", c->device);
    pipeline_reject(g->pipeline, &o, number, e, detail);
}

/* A kitchen's receipt of an order it was sent; the pipeline decides. */
static void acknowledge(legacy_gateway *g, legacy_conn *c, const char *tenant, const legacy_frame *f)
{
    kb_origin o;
    if (origin_of(g, c, tenant, &o) == 0) pipeline_receipt(g->pipeline, &o, f->request, strlen(f->request));
}

static void handle_frame(legacy_gateway *g, legacy_conn *c, const char *text, size_t len, int binary, int oversize)
{
    char detail[160];
    if (binary) {
        send_error(c, LEGACY_ERR_BINARY_FRAME, "send JSON text frames");
        return;
    }
    if (oversize) {
        snprintf(detail, sizeof detail, "a frame may be at most %d bytes", LEGACY_FRAME_MAX);
        send_error(c, LEGACY_ERR_FRAME_TOO_LARGE, detail);
        return;
    }
    legacy_frame f;
    legacy_error e = legacy_frame_parse(text, len, c->role == DEVICE_POS, &f, detail, sizeof detail);
    if (e != LEGACY_OK) {
        send_error(c, e, detail);
        return;
    }
    char tenant[REGISTRY_ID_MAX + 1], now[32];
    switch (f.type) {
    case LEGACY_PING:
        kb_iso_time(now, sizeof now);
        send_frame(c, legacy_frame_pong(now));
        break;
    case LEGACY_PONG:
        break;
    case LEGACY_NEW_ORDER:
        if (c->role != DEVICE_POS) {
            send_error(c, LEGACY_ERR_FORBIDDEN, "only a POS may send new_order");
            break;
        }
        /* Anonymous: the order names its tenant, or the outlet has one. */
        snprintf(tenant, sizeof tenant, "%s", c->tenant[0] ? c->tenant
                                              : registry_find_tenant((*g->registry), f.tenant) ? f.tenant
                                              : (*g->registry)->n_tenants == 1 ? (*g->registry)->tenants[0].id : "");
        if (tenant[0]) submit(g, c, tenant, f.request);
        else reject_here(g, c, f.order_number, KB_ERR_TENANT_MISMATCH, "tenant_id must name a tenant of this outlet");
        break;
    case LEGACY_ORDER_UPDATE:
    case LEGACY_ORDER_ACK:
        if (f.type == LEGACY_ORDER_ACK && c->role != DEVICE_KITCHEN) {
            send_error(c, LEGACY_ERR_FORBIDDEN, "only a kitchen may acknowledge an order");
            break;
        }
        order_tenant(g, c, f.order_number, tenant);
        if (!tenant[0]) reject_here(g, c, f.order_number, KB_ERR_UNKNOWN_ORDER, "no such order");
        else if (f.type == LEGACY_ORDER_ACK) acknowledge(g, c, tenant, &f);
        else submit(g, c, tenant, f.request);
        break;
    }
    legacy_frame_free(&f);
}

/* An anonymous client's message over the limit: dropped, with a
 * rate_limited error at most once a second; a flood is closed. */
static void drop_over_limit(legacy_conn *c)
{
    if (++c->dropped_in_row >= FLOOD_CLOSE_AFTER) {
        close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "rate limit exceeded", 1);
    } else if (kb_now_ms() - c->last_limit_error_ms >= 1000) {
        c->last_limit_error_ms = kb_now_ms();
        send_error(c, LEGACY_ERR_RATE_LIMITED, "too many frames: this one and the next are dropped; slow down");
    }
}

static void on_refill(lws_sorted_usec_list_t *sul);

/* Arms the refill timer: for the next token while messages wait, else for
 * RESUME_TOKENS, when reads resume. */
static void schedule_refill(legacy_conn *c)
{
    double want = c->in_head ? 1.0 : RESUME_TOKENS;
    double us = (want - c->tokens) * 1e6 / RATE_PER_S;
    lws_sul_schedule(lws_get_context(c->wsi), 0, &c->refill, on_refill, us > 1000.0 ? (lws_usec_t)us : 1000);
}

/* The bucket of a device is dry: no more reads until on_refill. Called in
 * its RECEIVE callback, where lws applies it at once (the rest of the read
 * it is parsing goes to its rxflow buflist, delivered after resume_rx). */
static void pause_rx(legacy_conn *c)
{
    if (!c->rx_paused) {
        c->rx_paused = 1;
        lws_rx_flow_control(c->wsi, 0);
    }
    schedule_refill(c);
}

/* A device's complete message, in c->rx: handled now if a token is there
 * and nothing waits before it, else queued in order (c->rx is taken) and
 * handled by on_refill. Reads pause as soon as the bucket is dry. */
static void admit(legacy_gateway *g, legacy_conn *c, int binary)
{
    if (!c->in_head && take_token(c)) {
        handle_frame(g, c, c->rx ? c->rx : "", c->rx_len, binary, c->rx_oversize);
        if (c->state == CONN_READY && c->tokens < 1.0) pause_rx(c);
        return;
    }
    if (c->in_count >= IN_MAX_FRAMES || c->in_bytes + c->rx_len > IN_MAX_BYTES) {
        close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "rate limit exceeded: too many frames waiting", 1);
        return;
    }
    in_msg *m = malloc(sizeof *m);
    if (!m) {
        close_conn(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory", 0);
        return;
    }
    *m = (in_msg){.text = c->rx, .len = c->rx_len, .binary = binary, .oversize = c->rx_oversize};
    c->rx = NULL;
    c->rx_len = 0;
    if (c->in_tail) c->in_tail->next = m;
    else c->in_head = m;
    c->in_tail = m;
    c->in_count++;
    c->in_bytes += m->len;
    pause_rx(c);
}

/* The refill timer (c->refill): run by the lws loop, outside any callback
 * of this wsi. Scheduled only while c->rx_paused (by pause_rx and here),
 * cancelled by resume_rx (close_conn calls it) and free_conn, so `c` and
 * its wsi are alive whenever it runs. Handles the waiting messages as
 * tokens allow, then resumes reads once RESUME_TOKENS are back. */
static void on_refill(lws_sorted_usec_list_t *sul)
{
    legacy_conn *c = lws_container_of(sul, legacy_conn, refill);
    legacy_gateway *g = c->gw;
    while (c->state == CONN_READY && c->in_head && take_token(c)) {
        in_msg *m = c->in_head;
        c->in_head = m->next;
        if (!c->in_head) c->in_tail = NULL;
        c->in_count--;
        c->in_bytes -= m->len;
        handle_frame(g, c, m->text ? m->text : "", m->len, m->binary, m->oversize);
        free(m->text);
        free(m);
    }
    if (c->state != CONN_READY) return; /* closed meanwhile; close_conn resumed reads */
    refill_tokens(c);
    if (!c->in_head && c->tokens >= RESUME_TOKENS) resume_rx(c);
    else schedule_refill(c);
}

/* Collects a message across fragments and hands it on when complete. */
static void on_receive(legacy_gateway *g, legacy_conn *c, const void *in, size_t len)
{
    if (!c->rx_oversize) {
        if (c->rx_len + len > LEGACY_FRAME_MAX) {
            c->rx_oversize = 1; /* keep reading to its end, keep nothing */
            free(c->rx);
            c->rx = NULL;
            c->rx_len = 0;
        } else if (len) {
            char *grown = realloc(c->rx, c->rx_len + len);
            if (!grown) {
                close_conn(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory", 0);
                return;
            }
            memcpy(grown + c->rx_len, in, len);
            c->rx = grown;
            c->rx_len += len;
        }
    }
    if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi)) return;
    if (c->state == CONN_READY) {
        int binary = lws_frame_is_binary(c->wsi);
        if (!c->anonymous) {
            admit(g, c, binary);
        } else if (take_token(c)) {
            c->dropped_in_row = 0;
            handle_frame(g, c, c->rx ? c->rx : "", c->rx_len, binary, c->rx_oversize);
        } else {
            drop_over_limit(c);
        }
    }
    free(c->rx);
    c->rx = NULL;
    c->rx_len = 0;
    c->rx_oversize = 0;
}

static void free_conn(legacy_conn *c)
{
    legacy_gateway *g = c->gw;
    for (legacy_conn **p = &g->conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            g->n_conns--;
            break;
        }
    lws_set_opaque_user_data(c->wsi, NULL);
    lws_sul_cancel(&c->refill);
    free_queue(c);
    free_in_queue(c);
    free(c->rx);
    free(c);
}

static int uri_is_root(struct lws *wsi)
{
    char uri[8];
    return lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) > 0 && strcmp(uri, "/") == 0;
}

int legacy_gateway_ws_callback(void *ctx, struct lws *wsi, enum lws_callback_reasons reason, void *in, size_t len)
{
    legacy_gateway *g = ctx;
    legacy_conn *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return uri_is_root(wsi) ? 0 : 1; /* the old server served / only */
    case LWS_CALLBACK_ESTABLISHED:
        c = calloc(1, sizeof *c);
        if (!c) return -1;
        c->gw = g;
        c->wsi = wsi;
        c->id = ++g->last_id;
        c->tokens = RATE_BURST;
        c->refilled_ms = kb_now_ms();
        kb_iso_time(c->connected_at, sizeof c->connected_at);
        c->next = g->conns;
        g->conns = c;
        g->n_conns++;
        lws_set_opaque_user_data(wsi, c);
        on_established(g, c);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (c && c->state != CONN_CLOSING) on_receive(g, c, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c ? on_writeable(c) : -1;
    case LWS_CALLBACK_CLOSED:
        if (c) {
            if (c->state != CONN_CLOSING)
                log_info("legacy %s %s disconnected", device_role_name(c->role), c->client_id);
            if (c->was_ready) tell_presence(g, c, 0);
            free_conn(c);
        }
        return 0;
    default:
        return 0;
    }
}

void legacy_gateway_order_changed(void *ctx, const char *tenant, const char *doc, int created)
{
    legacy_gateway *g = ctx;
    if (!g->conns) return;
    char now[32];
    kb_iso_time(now, sizeof now);
    /* As the old server did: new orders to kitchens, status changes to all.
     * A station-bound kitchen gets its station's view, and nothing of an
     * order without a part there, as over MQTT. */
    char *frame = created ? legacy_frame_new_order(doc, now) : legacy_frame_status_update(doc, now);
    if (!frame) return;
    size_t len = strlen(frame);
    cJSON *order = NULL;
    for (legacy_conn *c = g->conns; c; c = c->next) {
        if (c->state != CONN_READY || (c->tenant[0] && strcmp(c->tenant, tenant) != 0) ||
            (created && c->role != DEVICE_KITCHEN))
            continue;
        if (!c->station[0]) {
            queue_frame(c, frame, len);
            continue;
        }
        char *owned;
        if (visible_doc(g, c, tenant, doc, &order, &owned))
            send_frame(c, created ? legacy_frame_new_order(owned, now) : legacy_frame_status_update(owned, now));
        free(owned);
    }
    cJSON_Delete(order);
    free(frame);
}

char *legacy_gateway_clients_json(legacy_gateway *g)
{
    cJSON *doc = cJSON_CreateObject(), *list = cJSON_CreateArray();
    int total = 0;
    for (legacy_conn *c = g->conns; c; c = c->next) {
        if (c->state == CONN_CLOSING) continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "id", c->client_id);
        cJSON_AddStringToObject(e, "type", device_role_name(c->role));
        cJSON_AddStringToObject(e, "connectedAt", c->connected_at);
        cJSON_AddStringToObject(e, "transport", "legacy-websocket");
        if (c->anonymous) cJSON_AddNullToObject(e, "device");
        else cJSON_AddStringToObject(e, "device", c->device);
        if (c->tenant[0]) cJSON_AddStringToObject(e, "tenant", c->tenant);
        else cJSON_AddNullToObject(e, "tenant");
        cJSON_AddStringToObject(e, "state", c->state == CONN_READY ? "ready" : "authenticating");
        cJSON_AddItemToArray(list, e);
        total++;
    }
    cJSON_AddNumberToObject(doc, "total", total);
    cJSON_AddItemToObject(doc, "clients", list);
    /* Mosquitto 2.0 offers no list of connected clients to ask. */
    cJSON_AddStringToObject(doc, "mqtt_clients", "not listed: ask the broker ($SYS/broker/clients/connected)");
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
}

static void warn_if_open(const registry *r)
{
    if (!r->legacy_open) return;
    log_warn("*****************************************************************");
    log_warn("LEGACY GATEWAY IN OPEN MODE: anyone who can reach the HTTP port can");
    log_warn("connect without credentials, place orders and read every order.");
    log_warn("Use it only for a migration period; see docs/LEGACY.md.");
    log_warn("*****************************************************************");
}

legacy_gateway *legacy_gateway_new(kb_pipeline *p, registry *const *reg, const kb_config *config,
                                   struct lws_vhost *vhost)
{
    legacy_gateway *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->pipeline = p;
    g->registry = reg;
    g->auth = legacy_auth_new(config->mqtt_host, config->mqtt_port, vhost, auth_done, g);
    if (!g->auth || pipeline_observe(p, legacy_gateway_order_changed, g) != 0) {
        legacy_auth_free(g->auth);
        free(g);
        return NULL;
    }
    warn_if_open(*reg);
    log_info("legacy gateway on ws://%s:%d/ (%s mode)", config->http_bind[0] ? config->http_bind : "0.0.0.0",
             config->http_port, (*reg)->legacy_open ? "open" : "authenticated");
    return g;
}

void legacy_gateway_registry_changed(legacy_gateway *g)
{
    const registry *r = *g->registry;
    warn_if_open(r);
    for (legacy_conn *c = g->conns; c; c = c->next) {
        if (c->state == CONN_CLOSING) continue;
        if (c->anonymous) {
            if (!r->legacy_open)
                close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "the gateway now requires credentials", 1);
            else if (c->tenant[0] && !registry_find_tenant(r, c->tenant))
                close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "unknown tenant", 1);
            continue;
        }
        const registry_device *dev = registry_find_device(r, c->device);
        if (c->state == CONN_AUTHENTICATING) continue; /* checked when the verdict comes */
        const registry_tenant *t = dev ? registry_tenant_of(r, dev) : NULL;
        const char *station = dev ? registry_device_station(r, dev) : NULL;
        if (!t || dev->role != c->role || strcmp(t->id, c->tenant) != 0 || strcmp(station ? station : "", c->station) != 0)
            close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "this device was removed or changed", 1);
    }
}

void legacy_gateway_free(legacy_gateway *g)
{
    if (!g) return;
    legacy_auth_free(g->auth);
    while (g->conns) free_conn(g->conns);
    free(g);
}
