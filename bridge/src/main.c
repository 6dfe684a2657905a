/* main.c - kb-bridge: starts the pieces, runs the one event loop, stops.
 *
 * Startup order: settings -> registry -> journal -> HTTP server -> broker
 * link (connects from the first tick, retrying until the broker is up).
 * SIGINT/SIGTERM stop cleanly; SIGHUP reloads the registry (the old one
 * stays in force if the new file is bad).
 *
 * `kb-bridge --check-registry FILE` only reads FILE the way a start would
 * and exits: 0 if it is valid, 2 with one line naming what is wrong.
 * `kitchen-bus run` uses it before it starts anything. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge.h"
#include "dynsec_sync.h"
#include "health.h"
#include "http_server.h"
#include "legacy_auth.h"
#include "legacy_gateway.h"
#include "log.h"
#include "mqtt_link.h"
#include "order_service.h"
#include "retention.h"
#include "uplink_replay.h"

#define TICK_US (100 * LWS_US_PER_MS)
#define TRIM_EVERY_MS 10000.0

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

static void reload_registry(bridge *b)
{
    registry *fresh;
    char err[256];
    if (registry_load(b->config.registry_path, &fresh, err, sizeof err) != 0) {
        log_error("registry reload failed, keeping the current one: %s: %s", b->config.registry_path, err);
        return;
    }
    registry *old = b->registry;
    b->registry = fresh;
    log_info("registry reloaded: %zu tenants, %zu devices", fresh->n_tenants, fresh->n_devices);
    warn_if_demo(fresh);
    if (b->broker_connected) {
        dynsec_sync_forget_removed(b, old);
        dynsec_sync_start(b);
    }
    legacy_gateway_registry_changed(b);
    registry_free(old);
}

static void tick(lws_sorted_usec_list_t *sul)
{
    bridge *b = lws_container_of(sul, bridge, tick);
    static double last_probe;
    if (reload_requested) {
        reload_requested = 0;
        reload_registry(b);
    }
    if (!b->journal_ok && bridge_now_ms() - last_probe > 1000) {
        last_probe = bridge_now_ms();
        if (journal_probe(b->journal) == 0) health_journal_recovered(b);
    }
    mqtt_link_tick(b);
    uplink_replay_tick(b);
    static double last_trim;
    if (bridge_now_ms() - last_trim > TRIM_EVERY_MS) {
        /* A burst of orders leaves freed memory in glibc's heap; measured,
         * RSS then stays ~2 MB above what is live. Hand it back. */
        last_trim = bridge_now_ms();
        malloc_trim(0);
    }
    order_service_flush(b);
    retention_tick(b); /* after the flush: never inside the open batch */
    lws_sul_schedule(b->lws, 0, &b->tick, tick, TICK_US);
}

static void commit_now(lws_sorted_usec_list_t *sul)
{
    order_service_flush(lws_container_of(sul, bridge, commit_sul));
}

/* One turn of the loop later: what else arrives in this turn shares the
 * batch (group commit), and no batch waits for the next tick. */
static void commit_soon(bridge *b) { lws_sul_schedule(b->lws, 0, &b->commit_sul, commit_now, 1); }

static int open_journal(bridge *b)
{
    char dir[CONFIG_PATH_MAX + 16], path[CONFIG_PATH_MAX + 32], err[512];
    snprintf(dir, sizeof dir, "%s/bridge", b->config.data_dir);
    if (mkdir(b->config.data_dir, 0750) != 0 && errno != EEXIST) {
        log_error("cannot create %s: %s", b->config.data_dir, strerror(errno));
        return -1;
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        log_error("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/journal.db", dir);
    if (journal_open(&b->journal, path, err, sizeof err) != 0) {
        log_error("cannot open the journal: %s", err);
        return -1;
    }
    b->journal_ok = 1;
    log_info("journal %s: %lld open orders", path, (long long)journal_open_total(b->journal));
    /* `kitchen-bus add-device` finds the bridge here to ask for a reload. */
    snprintf(path, sizeof path, "%s/kb-bridge.pid", dir);
    FILE *pid = fopen(path, "w");
    if (pid) {
        fprintf(pid, "%ld\n", (long)getpid());
        fclose(pid);
    }
    return 0;
}

static int start_http(bridge *b)
{
    /* lws 4.1.6 crashes on .pprotocols, so the table is copied here. */
    static struct lws_protocols protocols[4];
    protocols[0] = http_server_protocol;
    protocols[1] = mqtt_link_protocol;
    protocols[2] = legacy_auth_protocol;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = b->config.http_port;
    info.iface = b->config.http_bind[0] ? b->config.http_bind : NULL;
    info.protocols = protocols;
    info.user = b;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    lws_set_log_level(LLL_ERR, NULL);
    b->lws = lws_create_context(&info);
    if (!b->lws) {
        log_error("cannot listen for HTTP on port %d", b->config.http_port);
        return -1;
    }
    b->vhost = lws_get_vhost_by_name(b->lws, "default");
    log_info("HTTP on %s:%d (health, metrics, web pages from %s)",
             info.iface ? info.iface : "0.0.0.0", b->config.http_port, b->config.web_dir);
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

int main(int argc, char **argv)
{
    static bridge b;
    char err[512];
    if (argc == 3 && strcmp(argv[1], "--check-registry") == 0) return check_registry(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: kb-bridge (settings from KB_* environment variables)\n"
                        "       kb-bridge --check-registry FILE\n");
        return 2;
    }
    b.started_at = time(NULL);
    if (config_from_env(&b.config, err, sizeof err) != 0) {
        log_error("%s", err);
        return 2;
    }
    if (registry_load(b.config.registry_path, &b.registry, err, sizeof err) != 0) {
        log_error("registry %s: %s", b.config.registry_path, err);
        return 2;
    }
    warn_if_demo(b.registry);
    mosquitto_lib_init();
    int rc = 1;
    if (open_journal(&b) != 0 || start_http(&b) != 0 || mqtt_link_init(&b) != 0) goto out;
    legacy_gateway_start(&b);
    uplink_replay_init(&b);
    b.commit_soon = commit_soon;

    signal_context = b.lws;
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

    lws_sul_schedule(b.lws, 0, &b.tick, tick, 1);
    while (!stop_requested)
        if (lws_service(b.lws, 0) < 0) break;
    log_info("stopping");
    rc = 0;
out:
    if (b.journal) order_service_shutdown(&b);
    legacy_gateway_shutdown(&b);
    uplink_replay_shutdown(&b);
    mqtt_link_destroy(&b);
    if (b.lws) {
        lws_sul_cancel(&b.tick);
        lws_sul_cancel(&b.commit_sul);
        lws_context_destroy(b.lws);
    }
    journal_close(b.journal);
    registry_free(b.registry);
    mosquitto_lib_cleanup();
    return rc;
}
