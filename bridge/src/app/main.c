/* main.c - kb-bridge: starts the pieces, runs the one event loop, stops.
 *
 * The one place the layers meet (docs/DESIGN.md "Layers"): it builds the
 * core (status, journal, pipeline, uplink replay, retention), then the
 * adapters (HTTP, the MQTT link and its modules, the legacy gateway), and
 * wires them with callbacks. Startup order: settings -> registry -> journal
 * -> pipeline -> HTTP context -> MQTT link (connects from the first tick,
 * retrying until the broker is up) -> legacy gateway. The order of the
 * steps at each broker connect is the order of mqtt_link_on_connect calls
 * in wire_mqtt(). A batch any origin opens is committed by commit_soon, on
 * the next turn of the loop, and after each MQTT read batch.
 * SIGINT/SIGTERM stop cleanly; SIGHUP reloads the registry (the old one
 * stays in force if the new file is bad).
 *
 * `kb-bridge --check-registry FILE` only reads FILE the way a start would
 * and exits: 0 if it is valid, 2 with one line naming what is wrong.
 * `kitchen-bus run` uses it before it starts anything. */
#include <errno.h>
#include <locale.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <mosquitto.h>

#include "admin_api.h"
#include "board.h"
#include "clock.h"
#include "config.h"
#include "dynsec_sync.h"
#include "health.h"
#include "health_publisher.h"
#include "http_server.h"
#include "journal.h"
#include "legacy_auth.h"
#include "legacy_gateway.h"
#include "log.h"
#include "mqtt_link.h"
#include "mqtt_orders.h"
#include "order_pipeline.h"
#include "presence.h"
#include "presence_feed.h"
#include "printer_pool.h"
#include "printing.h"
#include "registry.h"
#include "retention.h"
#include "status.h"
#include "text_buf.h"
#include "topics.h"
#include "uplink_replay.h"
#include "version.h"

#define TICK_US (100 * LWS_US_PER_MS)
#define TRIM_EVERY_MS 10000.0
#define PROBE_EVERY_MS 1000.0


/* Everything the bridge runs, owned here. */
typedef struct {
    kb_config config;
    registry *registry; /* the current one; modules read it through &registry */
    kb_status status;
    journal *journal;
    kb_pipeline *pipeline;
    uplink_replay *uplink; /* NULL unless KB_UPLINK=1 */
    board *board;
    retention retention;
    struct lws_context *lws;
    struct lws_vhost *vhost;
    http_server *http;
    mqtt_link *link;
    mqtt_orders *orders;
    dynsec_sync *dynsec;
    health_publisher *health;
    presence *presence;
    presence_feed *presence_feed;
    legacy_gateway *legacy;
    admin_api *admin;
    legacy_auth *admin_auth;
    printer_pool *printers;
    printing *printing;
    double connected_ms; /* when the broker connection came up (monotonic) */
    lws_sorted_usec_list_t tick, commit_sul;
    double last_probe_ms, last_trim_ms;
} app;

static volatile sig_atomic_t stop_requested, reload_requested;
static struct lws_context *signal_context;

static void on_signal(int sig)
{
    if (sig == SIGHUP) reload_requested = 1;
    else stop_requested = 1;
    if (signal_context) lws_cancel_service(signal_context);
}

static void warn_if_demo(const registry *r)
{
    if (!r->demo) return;
    log_warn("*****************************************************************");
    log_warn("DEMO MODE: every device's password equals its username.");
    log_warn("Anyone on this network can log in as any device. Do not use demo");
    log_warn("credentials in a restaurant; see README 'Going live'.");
    log_warn("*****************************************************************");
}

/* Re-reads the registry file and applies it: on SIGHUP, and after the
 * admin API saved a change. 0, or -1 if the file was refused (the current
 * registry stays in force). */
static int reload_registry(app *a)
{
    registry *fresh;
    char err[256];
    if (registry_load(a->config.registry_path, &fresh, err, sizeof err) != 0) {
        log_error("registry reload failed, keeping the current one: %s: %s", a->config.registry_path, err);
        return -1;
    }
    registry *old = a->registry;
    a->registry = fresh;
    log_info("registry reloaded: %zu tenants, %zu devices", fresh->n_tenants, fresh->n_devices);
    warn_if_demo(fresh);
    if (mqtt_link_connected(a->link)) {
        dynsec_sync_forget_removed(a->dynsec, old);
        presence_feed_forget_removed(a->presence_feed, old);
        dynsec_sync_start(a->dynsec);
        board_publish_all(a->board); /* a board added by the reload gets every tenant's document now */
    }
    legacy_gateway_registry_changed(a->legacy);
    admin_api_registry_changed(a->admin);
    registry_free(old);
    return 0;
}

static int reload_from_admin(void *ctx) { return reload_registry(ctx); }

/* A device on the old sync server's protocol counts as a screen too. */
static void on_legacy_presence(void *ctx, const char *tenant, device_role role, const char *device, int online,
                               const char *address)
{
    app *a = ctx;
    if (online && address[0]) presence_note_address(a->presence, device, address, 0, (double)kb_wall_ms());
    presence_feed_publish_legacy(a->presence_feed, tenant, role, device, online);
}

static void tick(lws_sorted_usec_list_t *sul)
{
    app *a = lws_container_of(sul, app, tick);
    double now = kb_now_ms();
    if (reload_requested) {
        reload_requested = 0;
        reload_registry(a);
    }
    if (!a->status.journal_ok && now - a->last_probe_ms > PROBE_EVERY_MS) {
        a->last_probe_ms = now;
        if (journal_probe(a->journal) == 0 && status_journal_recovered(&a->status)) log_info("journal writable again");
    }
    health_publisher_tick(a->health);
    dynsec_sync_tick(a->dynsec);
    mqtt_link_tick(a->link);
    if (mqtt_link_connected(a->link)) uplink_replay_tick(a->uplink);
    board_tick(a->board);
    if (now - a->last_trim_ms > TRIM_EVERY_MS) {
        /* A burst of orders leaves freed memory in glibc's heap; measured,
         * RSS then stays ~2 MB above what is live. Hand it back. */
        a->last_trim_ms = now;
        malloc_trim(0);
    }
    pipeline_flush(a->pipeline);
    /* After the flush, as retention: printing marks and hands out only
     * committed jobs. */
    printer_pool_drain(a->printers);
    /* After a broker connect the retained presence arrives in the first
     * batches, and the old sync server's kitchens reconnect within 5 s
     * (KB_SCREENS_SETTLE); until then the printers cannot tell whether a
     * screen is on, and decide after. */
    printing_tick(a->printing,
                  mqtt_link_connected(a->link) && now - a->connected_ms >= (double)a->config.screens_settle_ms, now);
    retention_tick(&a->retention); /* after the flush: never inside the open batch */
    lws_sul_schedule(a->lws, 0, &a->tick, tick, TICK_US);
}

static void commit_now(lws_sorted_usec_list_t *sul) { pipeline_flush(lws_container_of(sul, app, commit_sul)->pipeline); }

/* The pipeline's commit hook. One turn of the loop later: what else arrives
 * in this turn shares the batch (group commit), and no batch waits for the
 * next tick, whichever transport opened it. */
static void commit_soon(void *ctx)
{
    app *a = ctx;
    lws_sul_schedule(a->lws, 0, &a->commit_sul, commit_now, 1);
}

/* After an MQTT read batch: commit it at once (its publishes are written). */
static void flush_pipeline(void *ctx) { pipeline_flush(ctx); }

static void republish_open(void *ctx) { pipeline_republish_open(ctx); }

static void note_connected(void *ctx) { ((app *)ctx)->connected_ms = kb_now_ms(); }

/* ---- printers: the core decides, the pool sends ---- */

static int send_ticket(void *ctx, const char *key, const registry_printer *p, int64_t job, const unsigned char *bytes,
                       size_t len)
{
    return printer_pool_send(ctx, key, p->cups[0] ? NULL : p->address, p->cups[0] ? p->cups : NULL, job, bytes, len);
}

static void ticket_done(void *ctx, const char *key, int64_t job, int ok, int wrote_any, const char *error)
{
    printing_result(((app *)ctx)->printing, key, job, ok, wrote_any, error);
}

static int probe_cups(void *ctx, const char *key, const registry_printer *p)
{
    return printer_pool_probe(ctx, key, p->cups);
}

static void cups_probed(void *ctx, const char *key, int ok, int waiting, const char *oldest, const char *message)
{
    printing_probed(((app *)ctx)->printing, key, ok, waiting, oldest, message);
}

/* A kitchen screen's reprint: on its station's printer if it is bound to
 * one, else on every printer of its tenant that prints the order. */
static int screen_reprint(void *ctx, const kb_origin *from, const char *order_number, char *err, size_t errlen)
{
    app *a = ctx;
    int rc = printing_reprint(a->printing, from->tenant, order_number, from->station[0] ? from->station : NULL, err,
                              errlen);
    if (rc == 0) log_info("%s asked for a reprint of %s", from->device, order_number);
    return rc;
}

static int start_printing(app *a)
{
    char err[256];
    a->printers = printer_pool_new((int)a->config.printer_timeout_ms, ticket_done, a);
    if (!a->printers) {
        log_error("out of memory starting the printers");
        return -1;
    }
    printer_pool_on_probed(a->printers, cups_probed);
    /* CUPS's oldest ticket may take a while to print (a long one on USB) */
    printing_transport t = {send_ticket, probe_cups, a->printers, 3.0 * (double)a->config.printer_timeout_ms};
    a->printing = printing_new(a->journal, &a->registry, a->presence, &t, err, sizeof err);
    if (!a->printing || pipeline_observe(a->pipeline, printing_changed, a->printing) != 0) {
        log_error("cannot start the printers: %s", a->printing ? "too many observers" : err);
        return -1;
    }
    mqtt_orders_on_reprint(a->orders, screen_reprint, a);
    return 0;
}

static int open_journal(app *a)
{
    char dir[CONFIG_PATH_MAX + 16], path[CONFIG_PATH_MAX + 32], err[512];
    snprintf(dir, sizeof dir, "%s/bridge", a->config.data_dir);
    if (mkdir(a->config.data_dir, 0750) != 0 && errno != EEXIST) {
        log_error("cannot create %s: %s", a->config.data_dir, strerror(errno));
        return -1;
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        log_error("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/journal.db", dir);
    if (journal_open(&a->journal, path, err, sizeof err) != 0) {
        log_error("cannot open the journal: %s", err);
        return -1;
    }
    log_info("journal %s: %lld open orders", path, (long long)journal_open_total(a->journal));
    /* `kitchen-bus add-device` finds the bridge here to ask for a reload. */
    snprintf(path, sizeof path, "%s/kb-bridge.pid", dir);
    FILE *pid = fopen(path, "w");
    if (pid) {
        fprintf(pid, "%ld\n", (long)getpid());
        fclose(pid);
    }
    return 0;
}

/* ---- HTTP routes: what the core and the gateway say, as documents ---- */

/* With the uplink on (KB_UPLINK=1): per tenant, its last seq, what head
 * office has stored without a gap (`seen`, null until it says), and the
 * difference (docs/UPLINK.md "Observability"). */
static void add_uplink_lag(app *a, cJSON *doc)
{
    cJSON *u = cJSON_GetObjectItemCaseSensitive(doc, "uplink");
    if (!u) u = cJSON_AddObjectToObject(doc, "uplink");
    cJSON *tenants = u ? cJSON_AddObjectToObject(u, "tenants") : NULL;
    for (size_t i = 0; tenants && i < a->registry->n_tenants; i++) {
        const char *id = a->registry->tenants[i].id;
        int64_t last = pipeline_last_seq(a->pipeline, id), seen = uplink_replay_seen(a->uplink, id);
        cJSON *t = cJSON_AddObjectToObject(tenants, id);
        cJSON_AddNumberToObject(t, "last_seq", (double)last);
        if (seen < 0) {
            cJSON_AddNullToObject(t, "seen");
            cJSON_AddNullToObject(t, "lag");
        } else {
            cJSON_AddNumberToObject(t, "seen", (double)seen);
            cJSON_AddNumberToObject(t, "lag", (double)(last > seen ? last - seen : 0));
        }
    }
}

/* kb_uplink_lag_events{tenant}: the same lag, for tenants head office has
 * reported on. Appended to out. */
static void uplink_lag_metrics(app *a, text_buf *out)
{
    if (!a->uplink) return;
    text_buf_printf(out, "# HELP kb_uplink_lag_events Events of a tenant head office has not stored yet (last seq - seen).\n"
                         "# TYPE kb_uplink_lag_events gauge\n");
    for (size_t i = 0; i < a->registry->n_tenants; i++) {
        const char *id = a->registry->tenants[i].id;
        int64_t last = pipeline_last_seq(a->pipeline, id), seen = uplink_replay_seen(a->uplink, id);
        if (seen >= 0)
            text_buf_printf(out, "kb_uplink_lag_events{tenant=\"%s\"} %lld\n", id,
                            (long long)(last > seen ? last - seen : 0));
    }
}

/* The core's health, with the printers: a failing printer says "printing":
 * "degraded" but leaves the status (and the HTTP code) to the order flow,
 * which it does not stop. */
static int get_health(void *ctx, const http_request *req, http_response *res)
{
    (void)req;
    app *a = ctx;
    int ok, degraded;
    char *core = health_json(&a->status, a->pipeline, a->registry, &ok);
    cJSON *doc = core ? cJSON_Parse(core) : NULL, *printers = printing_status_json(a->printing, &degraded);
    free(core);
    if (doc && a->uplink) add_uplink_lag(a, doc);
    if (doc && printers) {
        cJSON_AddStringToObject(doc, "printing", degraded ? "degraded" : "ok");
        cJSON_AddItemToObject(doc, "printers", printers);
        printers = NULL;
        res->body = cJSON_PrintUnformatted(doc);
    }
    cJSON_Delete(printers);
    cJSON_Delete(doc);
    res->status = ok ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE;
    return res->body ? HTTP_ANSWERED : -1;
}

static int get_metrics(void *ctx, const http_request *req, http_response *res)
{
    (void)req;
    app *a = ctx;
    res->type = "text/plain; version=0.0.4";
    text_buf out = {0};
    metrics_text(&out, &a->status, a->pipeline);
    presence_metrics(a->presence, a->registry, &out);
    uplink_lag_metrics(a, &out);
    printing_metrics(a->printing, &out);
    res->body = text_buf_take(&out);
    return res->body ? HTTP_ANSWERED : -1;
}

/* The old sync server's clients, and the MQTT devices presence says are on. */
static int get_clients(void *ctx, const http_request *req, http_response *res)
{
    (void)req;
    app *a = ctx;
    char *legacy = legacy_gateway_clients_json(a->legacy);
    cJSON *doc = legacy ? cJSON_Parse(legacy) : NULL;
    free(legacy);
    if (!doc) return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "mqtt_clients");
    cJSON *all = presence_devices_json(a->presence, a->registry), *online = cJSON_CreateArray(), *it, *next;
    for (it = all ? all->child : NULL; it; it = next) {
        next = it->next;
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "online"))) continue;
        cJSON *e = cJSON_CreateObject();
        static const char *const keys[] = {"username", "role", "tenant", "station", "since", "page"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, keys[k]);
            cJSON_AddItemToObject(e, strcmp(keys[k], "username") == 0 ? "device" : keys[k],
                                  v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
        }
        cJSON_AddStringToObject(e, "transport", "mqtt");
        cJSON_AddItemToArray(online, e);
    }
    cJSON_Delete(all);
    cJSON_AddNumberToObject(doc, "mqtt_total", cJSON_GetArraySize(online));
    cJSON_AddItemToObject(doc, "mqtt_clients", online);
    res->body = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return res->body ? HTTP_ANSWERED : -1;
}

/* What a browser page needs to connect. */
static int get_config(void *ctx, const http_request *req, http_response *res)
{
    (void)req;
    app *a = ctx;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "mqtt_ws_port", a->config.ws_port);
    cJSON_AddStringToObject(c, "outlet", a->registry->outlet_id);
    cJSON_AddStringToObject(c, "outlet_name", a->registry->outlet_name);
    cJSON_AddStringToObject(c, "version", KB_VERSION);
    cJSON_AddBoolToObject(c, "demo", a->registry->demo);
    res->body = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    return res->body ? HTTP_ANSWERED : -1;
}

static int start_http(app *a)
{
    a->http = http_server_new(a->config.web_dir, a->config.admin_bind);
    if (!a->http || http_server_route(a->http, "GET", "/health", HTTP_ROUTE_CORS, get_health, a) ||
        http_server_route(a->http, "GET", "/metrics", HTTP_ROUTE_CORS, get_metrics, a) ||
        http_server_route(a->http, "GET", "/clients", HTTP_ROUTE_CORS, get_clients, a) ||
        http_server_route(a->http, "GET", "/config.json", HTTP_ROUTE_CORS, get_config, a)) {
        log_error("out of memory starting HTTP");
        return -1;
    }
    /* lws 4.1.6 crashes on .pprotocols, so the table is copied here. */
    static struct lws_protocols protocols[4];
    protocols[0] = http_server_protocol(a->http);
    protocols[1] = mqtt_link_protocol;
    protocols[2] = legacy_auth_protocol;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = a->config.http_port;
    info.iface = a->config.http_bind[0] ? a->config.http_bind : NULL;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    lws_set_log_level(LLL_ERR, NULL);
    a->lws = lws_create_context(&info);
    if (!a->lws) {
        log_error("cannot listen for HTTP on port %d", a->config.http_port);
        return -1;
    }
    a->vhost = lws_get_vhost_by_name(a->lws, "default");
    log_info("HTTP on %s:%d (health, metrics, web pages from %s)", info.iface ? info.iface : "0.0.0.0",
             a->config.http_port, a->config.web_dir);
    return 0;
}

static int publish_replay(void *ctx, const char *topic, const char *doc)
{
    return mqtt_link_publish(ctx, topic, doc, strlen(doc), 0, NULL);
}

static int publish_board(void *ctx, const char *tenant, const char *doc)
{
    char topic[TOPIC_MAX];
    if (topic_board(topic, sizeof topic, tenant)) return -1;
    return mqtt_link_publish(ctx, topic, doc, strlen(doc), 1, NULL);
}

static void on_uplink_seen(void *ctx, const char *topic, const void *payload, size_t len, int retained)
{
    (void)retained;
    topic_info t;
    if (topic_parse(topic, &t) == TOPIC_UPLINK_SEEN) uplink_replay_on_seen(ctx, t.tenant, payload, len);
}

/* The broker's bridge to head office, as it reports it: on
 * $SYS/broker/connection/<name>/state, or on the notification_topic
 * docs/UPLINK.md sets, kitchen-bus/outlets/<outlet>/uplink ("1" up, "0"
 * down). */
static void on_uplink_state(void *ctx, const char *topic, const void *payload, size_t len, int retained)
{
    (void)retained;
    const char *p = payload;
    const char *name = strchr(topic, '/');
    if (!name || !(name = strchr(name + 1, '/'))) return; /* after "<a>/<b>/" */
    name++;
    const char *end = strchr(name, '/');
    char buf[64];
    if (!end || end == name || (size_t)(end - name) >= sizeof buf || len != 1 || (p[0] != '0' && p[0] != '1')) return;
    memcpy(buf, name, (size_t)(end - name));
    buf[end - name] = '\0';
    status_set_uplink_link(ctx, buf, p[0] == '1');
}

/* The MQTT side, and the order of the steps at every connect. */
static int wire_mqtt(app *a)
{
    a->link = mqtt_link_new(&a->config, &a->status, a->vhost);
    if (!a->link) return -1;
    a->health = health_publisher_new(a->link, &a->status, a->pipeline, &a->registry);
    a->dynsec = dynsec_sync_new(a->link, &a->registry, a->config.bridge_user, &a->status);
    a->orders = mqtt_orders_new(a->link, a->pipeline, &a->registry);
    a->board = board_new(&a->registry, a->config.board_ready_for_ms, publish_board, a->link);
    a->presence = presence_new();
    a->presence_feed = a->presence ? presence_feed_new(a->link, &a->registry, a->presence, NULL, NULL) : NULL;
    if (!a->health || !a->dynsec || !a->orders || !a->board || !a->presence_feed ||
        pipeline_observe(a->pipeline, board_changed, a->board) ||
        mqtt_link_route(a->link, TOPIC_SUB_BROKER_CONNECTIONS, 0, on_uplink_state, &a->status) ||
        mqtt_link_route(a->link, TOPIC_SUB_UPLINK_STATE, 0, on_uplink_state, &a->status))
        return -1;
    board_load(a->board, a->journal);
    if (a->config.uplink) {
        a->uplink = uplink_replay_new(a->pipeline, &a->status, a->config.uplink_grace_ms, publish_replay, a->link);
        if (!a->uplink || mqtt_link_route(a->link, TOPIC_SUB_UPLINK_SEEN, 0, on_uplink_seen, a->uplink)) return -1;
    }
    a->retention = (retention){.journal = a->journal, .status = &a->status, .uplink = a->uplink,
                               .retention_ms = a->config.retention_ms};
    /* At each connect, after the routes are subscribed:
     * 1. give the registry's devices and roles to the broker;
     * 2. re-publish every open order's retained state (and stations' views);
     * 3. the pickup boards;
     * 4. then health: the broker stores our publishes in order, so a screen
     *    that sees "ok" finds the retained view complete. */
    if (mqtt_link_on_connect(a->link, note_connected, a) ||
        mqtt_link_on_connect(a->link, dynsec_sync_start, a->dynsec) ||
        mqtt_link_on_connect(a->link, republish_open, a->pipeline) ||
        mqtt_link_on_connect(a->link, board_publish_all, a->board) ||
        mqtt_link_on_connect(a->link, health_publisher_publish, a->health) ||
        mqtt_link_after_batch(a->link, flush_pipeline, a->pipeline))
        return -1;
    return 0;
}

static int check_registry(const char *path)
{
    registry *r;
    char err[512];
    if (registry_load(path, &r, err, sizeof err) != 0) {
        fprintf(stderr, "registry %s is not valid: %s\n", path, err);
        return 2;
    }
    printf("registry %s: %zu tenants, %zu devices%s\n", path, r->n_tenants, r->n_devices,
           r->demo ? " (demo mode)" : "");
    registry_free(r);
    return 0;
}

/* Stops in the reverse order of start: acks still owed go out (pipeline),
 * then the transports close. */
static void stop(app *a)
{
    pipeline_free(a->pipeline);
    a->pipeline = NULL;
    printer_pool_free(a->printers); /* no result comes back after this */
    a->printers = NULL;
    printing_free(a->printing);
    if (a->http) http_server_on_websocket(a->http, NULL, NULL); /* closes during lws_context_destroy find no gateway */
    legacy_gateway_free(a->legacy);
    legacy_auth_free(a->admin_auth);
    admin_api_free(a->admin);
    presence_feed_free(a->presence_feed);
    uplink_replay_free(a->uplink);
    board_free(a->board);
    mqtt_orders_free(a->orders);
    dynsec_sync_free(a->dynsec);
    health_publisher_free(a->health);
    mqtt_link_free(a->link);
    if (a->lws) {
        lws_sul_cancel(&a->tick);
        lws_sul_cancel(&a->commit_sul);
        lws_context_destroy(a->lws);
    }
    http_server_free(a->http);
    presence_free(a->presence);
    journal_close(a->journal);
    registry_free(a->registry);
}

int main(int argc, char **argv)
{
    static app a;
    char err[512];
    if (argc == 3 && strcmp(argv[1], "--check-registry") == 0) return check_registry(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: kb-bridge (settings from KB_* environment variables)\n"
                        "       kb-bridge --check-registry FILE\n");
        return 2;
    }
    /* Tickets are transliterated into the printers' code pages by iconv,
     * which transliterates beyond Latin-1 (Vietnamese, say) only under a
     * UTF-8 character type (model/escpos.h). */
    if (!setlocale(LC_CTYPE, "C.UTF-8")) log_warn("no C.UTF-8 locale: tickets print fewer accented letters");
    status_init(&a.status);
    if (config_from_env(&a.config, err, sizeof err) != 0) {
        log_error("%s", err);
        return 2;
    }
    if (registry_load(a.config.registry_path, &a.registry, err, sizeof err) != 0) {
        log_error("registry %s: %s", a.config.registry_path, err);
        return 2;
    }
    warn_if_demo(a.registry);
    if (a.config.test_clock && !a.registry->demo) {
        log_error("KB_TEST_CLOCK=1 lets a test set the bridge's clock; it is refused with a production registry "
                  "(%s is not \"demo\": true): unset KB_TEST_CLOCK", a.config.registry_path);
        registry_free(a.registry);
        return 2;
    }
    if (a.config.test_clock) log_warn("KB_TEST_CLOCK=1: POST /api/test/clock sets this bridge's wall clock (tests only)");
    mosquitto_lib_init();
    int rc = 1;
    if (open_journal(&a) != 0) goto out;
    a.pipeline = pipeline_new(a.journal, &a.status, &a.registry, a.config.dedupe_window_ms);
    if (!a.pipeline || start_http(&a) != 0) goto out;
    if (wire_mqtt(&a) != 0) {
        log_error("out of memory starting the broker link");
        goto out;
    }
    if (start_printing(&a) != 0) goto out;
    a.legacy = legacy_gateway_new(a.pipeline, &a.registry, &a.config, a.vhost);
    if (!a.legacy) {
        log_error("out of memory starting the legacy gateway");
        goto out;
    }
    http_server_on_websocket(a.http, legacy_gateway_ws_callback, a.legacy);
    legacy_gateway_on_presence(a.legacy, on_legacy_presence, &a);
    admin_api_deps admin = {&a.config, &a.registry, a.presence, &a.status, a.pipeline, a.legacy, a.dynsec,
                            reload_from_admin, &a, a.lws, a.printing};
    a.admin = admin_api_new(&admin, a.http);
    a.admin_auth = a.admin ? legacy_auth_new(a.config.mqtt_host, a.config.mqtt_port, a.vhost, admin_api_auth_done, a.admin)
                           : NULL;
    if (!a.admin_auth) {
        log_error("out of memory starting the admin API");
        goto out;
    }
    admin_api_set_auth(a.admin, a.admin_auth);
    pipeline_set_commit_hook(a.pipeline, commit_soon, &a);

    signal_context = a.lws;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A file-size limit must fail a journal write (and be reported), not
     * kill the bridge. */
    signal(SIGXFSZ, SIG_IGN);

    lws_sul_schedule(a.lws, 0, &a.tick, tick, 1);
    while (!stop_requested)
        if (lws_service(a.lws, 0) < 0) break;
    log_info("stopping");
    rc = 0;
out:
    stop(&a);
    mosquitto_lib_cleanup();
    return rc;
}
