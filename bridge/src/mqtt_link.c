/* mqtt_link.c - see mqtt_link.h for how libmosquitto runs inside the
 * libwebsockets loop. */
#include "mqtt_link.h"

#include <errno.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dynsec_sync.h"
#include "health.h"
#include "log.h"
#include "order_service.h"
#include "topics.h"
#include "uplink_replay.h"

#define KEEPALIVE_S 30
#define SESSION_EXPIRY_S (7 * 24 * 3600)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000         /* a broker that cannot be reached */
#define REFUSED_BACKOFF_MAX_MS 5000 /* one that refuses: only a fix on its side helps */
#define REMINDER_MS 60000.0         /* "still refused/unreachable" at most this often */
#define REASON_QUIET_MS 10000.0     /* a changed reason is logged at most this often */
#define BRIDGE_INFLIGHT 1000
#define READ_BATCH_MAX 4096

/* The retained health while the bridge is away: its will, and its goodbye. */
static const char health_offline[] = "{\"status\":\"offline\",\"broker\":\"disconnected\"}";

/* ---- The connection's state: one log line per change, then reminders ---- */

static int login_refusal(int rc)
{
    return rc == CONNACK_REFUSED_BAD_USERNAME_PASSWORD || rc == CONNACK_REFUSED_NOT_AUTHORIZED ||
           rc == MQTT_RC_BAD_USERNAME_OR_PASSWORD || rc == MQTT_RC_NOT_AUTHORIZED;
}

static int backoff_cap_ms(const bridge *b)
{
    return b->link.state == BROKER_REFUSED ? REFUSED_BACKOFF_MAX_MS : BACKOFF_MAX_MS;
}

/* The line for entering the current state (or a changed reason). */
static void log_change(bridge *b)
{
    const broker_link *l = &b->link;
    const kb_config *c = &b->config;
    if (l->state == BROKER_REFUSED && login_refusal(l->refusal_rc))
        log_error("broker refused the bridge's login (%s): the broker's dynamic-security store does not accept "
                  "%s's password in KB_BRIDGE_PASSWORD_FILE=%s; is the broker running with the store broker-init "
                  "made, and can it read it? Retrying with backoff up to %d s",
                  l->reason, c->bridge_user, c->bridge_password_file, REFUSED_BACKOFF_MAX_MS / 1000);
    else if (l->state == BROKER_REFUSED)
        log_error("broker at %s:%d refused the bridge's connection (%s); retrying with backoff up to %d s",
                  c->mqtt_host, c->mqtt_port, l->reason, REFUSED_BACKOFF_MAX_MS / 1000);
    else
        log_warn("cannot reach the broker at %s:%d (%s): is it running and listening there (KB_MQTT_HOST, "
                 "KB_MQTT_PORT)? Retrying with backoff up to %d s",
                 c->mqtt_host, c->mqtt_port, l->reason, BACKOFF_MAX_MS / 1000);
}

static void log_reminder(bridge *b)
{
    const broker_link *l = &b->link;
    const kb_config *c = &b->config;
    unsigned long long n = (unsigned long long)l->attempts;
    if (l->state == BROKER_REFUSED && login_refusal(l->refusal_rc))
        log_error("still refused by the broker (%s), %llu attempts since %s; check %s's password in "
                  "KB_BRIDGE_PASSWORD_FILE=%s against the broker's dynamic-security store",
                  l->reason, n, l->since, c->bridge_user, c->bridge_password_file);
    else if (l->state == BROKER_REFUSED)
        log_error("still refused by the broker at %s:%d (%s), %llu attempts since %s", c->mqtt_host,
                  c->mqtt_port, l->reason, n, l->since);
    else
        log_warn("still cannot reach the broker at %s:%d (%s), %llu attempts since %s; is it running "
                 "(KB_MQTT_HOST, KB_MQTT_PORT)?", c->mqtt_host, c->mqtt_port, l->reason, n, l->since);
}

/* Copies a library message without its trailing period. */
static void set_reason(broker_link *l, const char *why)
{
    snprintf(l->reason, sizeof l->reason, "%s", why);
    size_t n = strlen(l->reason);
    if (n && l->reason[n - 1] == '.') l->reason[n - 1] = '\0';
}

static void enter_state(bridge *b, broker_state state)
{
    b->link.state = state;
    b->link.attempts = 0;
    bridge_iso_time(b->link.since, sizeof b->link.since);
}

/* One failed attempt: a refusal, or no broker to talk to. Logs only when
 * the state or the reason changes, and a reminder now and then. */
static void link_failed(bridge *b, broker_state state, const char *why)
{
    broker_link *l = &b->link;
    double now = bridge_now_ms();
    char previous[sizeof l->reason];
    memcpy(previous, l->reason, sizeof previous);
    int changed = l->state != state;
    if (changed) enter_state(b, state);
    set_reason(l, why);
    l->attempts++;
    l->outage_attempts++;
    if (changed || (strcmp(previous, l->reason) != 0 && now - l->last_line_ms >= REASON_QUIET_MS)) {
        l->last_line_ms = now;
        log_change(b);
    } else if (now - l->last_line_ms >= REMINDER_MS) {
        l->last_line_ms = now;
        log_reminder(b);
    }
}

/* The next attempt waits for the backoff, which then doubles up to its cap. */
static void schedule_retry(bridge *b)
{
    int cap = backoff_cap_ms(b);
    int wait = b->connect_backoff_ms < cap ? b->connect_backoff_ms : cap;
    b->next_connect_ms = bridge_now_ms() + wait;
    b->connect_backoff_ms = wait * 2 > cap ? cap : wait * 2;
}

/* While refused, the password file is read again before each attempt, so
 * fixing it needs no restart. The password itself is never logged. */
static void reload_password(bridge *b)
{
    char fresh[sizeof b->config.bridge_password], err[CONFIG_PATH_MAX + 64];
    if (config_read_password(&b->config, fresh, sizeof fresh, err, sizeof err) != 0) return;
    if (strcmp(fresh, b->config.bridge_password) != 0) {
        memcpy(b->config.bridge_password, fresh, strlen(fresh) + 1);
        if (mosquitto_username_pw_set(b->mosq, b->config.bridge_user, b->config.bridge_password) == MOSQ_ERR_SUCCESS)
            log_info("the password in KB_BRIDGE_PASSWORD_FILE=%s changed; logging in with it",
                     b->config.bridge_password_file);
    }
    memset(fresh, 0, sizeof fresh);
}

static void request_write(bridge *b)
{
    if (b->mqtt_wsi && mosquitto_want_write(b->mosq)) lws_callback_on_writable(b->mqtt_wsi);
}

/* Tears down the adopted descriptor. shutdown() is needed because our dup
 * would otherwise keep the TCP connection alive after libmosquitto closes
 * its own descriptor. */
static void drop_adopted(bridge *b)
{
    if (!b->mqtt_wsi) return;
    int fd = lws_get_socket_fd(b->mqtt_wsi);
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
    lws_set_timeout(b->mqtt_wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    b->mqtt_wsi = NULL;
}

/* The retained health: read from health.c, published here (at every connect,
 * and at the tick after health_changed()). */
static void publish_health(bridge *b)
{
    int ok;
    char *doc = health_json(b, &ok);
    b->health_dirty = 0;
    if (doc) mqtt_link_publish(b, TOPIC_HEALTH, doc, strlen(doc), 1, NULL);
    free(doc);
}

static void on_connect(struct mosquitto *mosq, void *ctx, int rc, int flags, const mosquitto_property *props)
{
    (void)flags;
    (void)props;
    bridge *b = ctx;
    broker_link *l = &b->link;
    if (rc != 0) {
        /* on_disconnect follows and schedules the retry. */
        b->stats.broker_refusals++;
        l->refusal_rc = rc;
        link_failed(b, BROKER_REFUSED, mosquitto_reason_string(rc));
        return;
    }
    static int connected_before;
    if (connected_before) b->stats.broker_reconnects++;
    connected_before = 1;
    b->broker_connected = 1;
    b->connect_backoff_ms = BACKOFF_MIN_MS;
    if (l->outage_attempts)
        log_info("connected to the broker at %s:%d after %llu failed attempts over %.1f s (it %s: %s)",
                 b->config.mqtt_host, b->config.mqtt_port, (unsigned long long)l->outage_attempts,
                 (bridge_now_ms() - l->outage_start_ms) / 1000.0,
                 l->state == BROKER_REFUSED ? "had refused the bridge" : "was unreachable", l->reason);
    else
        log_info("connected to the broker at %s:%d", b->config.mqtt_host, b->config.mqtt_port);
    enter_state(b, BROKER_CONNECTED);
    l->reason[0] = '\0';
    l->outage_attempts = 0;
    l->last_line_ms = bridge_now_ms();
    mosquitto_subscribe_v5(mosq, NULL, TOPIC_DYNSEC_RESPONSE, 1, 0, NULL);
    mosquitto_subscribe_v5(mosq, NULL, TOPIC_SUB_SUBMIT, 1, 0, NULL);
    mosquitto_subscribe_v5(mosq, NULL, TOPIC_SUB_STATUS, 1, 0, NULL);
    /* Only the retained state the broker holds comes back, never our own
     * publishes: it is compared with the journal (order_service_reconcile). */
    mosquitto_subscribe_v5(mosq, NULL, TOPIC_SUB_ORDERS, 1, MQTT_SUB_OPT_NO_LOCAL, NULL);
    uplink_replay_on_connect(b);
    dynsec_sync_start(b);
    order_service_republish_open(b);
    /* "ok" goes out after the open orders: the broker stores our publishes
     * in order, so a screen that sees it finds the retained view complete. */
    publish_health(b);
}

static void on_disconnect(struct mosquitto *mosq, void *ctx, int rc, const mosquitto_property *props)
{
    (void)mosq;
    (void)props;
    bridge *b = ctx;
    broker_link *l = &b->link;
    if (b->stopping) return; /* our own goodbye (mqtt_link_destroy) */
    if (b->broker_connected) {
        /* Not a failed attempt: the reconnects that follow are. */
        enter_state(b, BROKER_UNREACHABLE);
        set_reason(l, mosquitto_strerror(rc));
        l->outage_start_ms = l->last_line_ms = bridge_now_ms();
        log_warn("lost the broker connection (%s); reconnecting with backoff up to %d s", l->reason,
                 BACKOFF_MAX_MS / 1000);
    } else if (!l->refusal_rc) {
        b->stats.broker_connect_failures++;
        link_failed(b, BROKER_UNREACHABLE, "the broker closed the connection before answering the login");
    }
    b->broker_connected = 0;
    b->access_synced = 0;
    schedule_retry(b);
    drop_adopted(b);
}

static void on_message(struct mosquitto *mosq, void *ctx, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    (void)mosq;
    (void)props;
    bridge *b = ctx;
    topic_info t;
    switch (topic_parse(msg->topic, &t)) {
    case TOPIC_POS_SUBMIT:
    case TOPIC_KITCHEN_STATUS:
        order_service_handle(b, t.tenant, t.device, msg->payload, (size_t)msg->payloadlen, ORDER_REPLY_MQTT);
        break;
    case TOPIC_ORDER_STATE:
        if (msg->retain) order_service_reconcile(b, t.tenant, t.order_number, msg->payload, (size_t)msg->payloadlen);
        break;
    case TOPIC_UPLINK_SEEN:
        uplink_replay_on_seen(b, t.tenant, msg->payload, (size_t)msg->payloadlen);
        break;
    case TOPIC_DYNSEC_REPLY:
        dynsec_sync_on_response(b, msg->payload, (size_t)msg->payloadlen);
        break;
    default:
        break;
    }
}

static void on_publish(struct mosquitto *mosq, void *ctx, int mid, int reason, const mosquitto_property *props)
{
    (void)mosq;
    (void)props;
    if (reason >= 0x80) log_error("broker refused publish %d (reason 0x%02x)", mid, reason);
    order_service_puback(ctx, mid);
}

int mqtt_link_init(bridge *b)
{
    b->mosq = mosquitto_new("kb-bridge", false, b);
    if (!b->mosq) return -1;
    mosquitto_int_option(b->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(b->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_int_option(b->mosq, MOSQ_OPT_SEND_MAXIMUM, BRIDGE_INFLIGHT);
    mosquitto_username_pw_set(b->mosq, b->config.bridge_user, b->config.bridge_password);
    mosquitto_will_set_v5(b->mosq, TOPIC_HEALTH, (int)strlen(health_offline), health_offline, 1, true, NULL);
    mosquitto_connect_v5_callback_set(b->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(b->mosq, on_disconnect);
    mosquitto_message_v5_callback_set(b->mosq, on_message);
    mosquitto_publish_v5_callback_set(b->mosq, on_publish);
    b->connect_backoff_ms = BACKOFF_MIN_MS;
    broker_link *l = &b->link;
    enter_state(b, BROKER_CONNECTING);
    set_reason(l, "no connection attempt has finished yet");
    l->outage_start_ms = bridge_now_ms();
    return 0;
}

void mqtt_link_destroy(bridge *b)
{
    if (!b->mosq) return;
    b->stopping = 1;
    if (b->broker_connected) {
        /* A clean disconnect would suppress the will; publish offline ourselves. */
        mosquitto_publish_v5(b->mosq, NULL, TOPIC_HEALTH, (int)strlen(health_offline), health_offline, 1, true,
                             NULL);
        mosquitto_loop_write(b->mosq, 1);
        b->broker_connected = 0; /* a chosen disconnect, not a lost connection */
        mosquitto_disconnect_v5(b->mosq, 0, NULL);
    }
    drop_adopted(b);
    mosquitto_destroy(b->mosq);
    b->mosq = NULL;
}

/* A blocking connect: the broker is on loopback (or the compose network),
 * where a connect succeeds or is refused at once. */
static void try_connect(bridge *b)
{
    static int first = 1;
    if (b->link.state == BROKER_REFUSED) reload_password(b);
    b->link.refusal_rc = 0;
    mosquitto_property *props = NULL;
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, SESSION_EXPIRY_S);
    int rc = first ? mosquitto_connect_bind_v5(b->mosq, b->config.mqtt_host, b->config.mqtt_port,
                                               KEEPALIVE_S, NULL, props)
                   : mosquitto_reconnect(b->mosq);
    int err = errno;
    mosquitto_property_free_all(&props);
    if (rc != MOSQ_ERR_SUCCESS) {
        b->stats.broker_connect_failures++;
        link_failed(b, BROKER_UNREACHABLE, rc == MOSQ_ERR_ERRNO ? strerror(err) : mosquitto_strerror(rc));
        schedule_retry(b);
        return;
    }
    first = 0;
    lws_sock_file_fd_type fd;
    fd.filefd = dup(mosquitto_socket(b->mosq));
    b->mqtt_wsi = fd.filefd < 0 ? NULL
                                : lws_adopt_descriptor_vhost(b->vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                                             mqtt_link_protocol.name, NULL);
    if (!b->mqtt_wsi) {
        log_error("cannot adopt the broker socket into the event loop");
        if (fd.filefd >= 0) close(fd.filefd);
        mosquitto_disconnect(b->mosq);
        b->next_connect_ms = bridge_now_ms() + BACKOFF_MAX_MS;
        return;
    }
    request_write(b);
}

void mqtt_link_tick(bridge *b)
{
    if (b->health_dirty && b->broker_connected) publish_health(b);
    if (!b->mqtt_wsi) {
        if (bridge_now_ms() >= b->next_connect_ms) try_connect(b);
        return;
    }
    mosquitto_loop_misc(b->mosq);
    request_write(b);
}

int mqtt_link_publish(bridge *b, const char *topic, const void *payload, size_t len, int retain, int *mid)
{
    int rc = mosquitto_publish_v5(b->mosq, mid, topic, (int)len, payload, 1, retain, NULL);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
        log_error("publish to %s failed: %s", topic, mosquitto_strerror(rc));
        return -1;
    }
    request_write(b);
    return 0;
}

/* Reads every packet the socket already holds, so that one journal commit
 * (one fsync) covers the whole burst: this is the group commit. The cap
 * keeps HTTP clients served during a flood. */
static int read_batch(bridge *b)
{
    int fd = mosquitto_socket(b->mosq);
    for (int i = 0; i < READ_BATCH_MAX; i++) {
        int rc = mosquitto_loop_read(b->mosq, 1);
        if (rc != MOSQ_ERR_SUCCESS) return rc;
        int pending = 0;
        if (fd < 0 || ioctl(fd, FIONREAD, &pending) != 0 || pending <= 0) break;
    }
    return MOSQ_ERR_SUCCESS;
}

static int link_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    bridge *b = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (wsi != b->mqtt_wsi) return -1; /* a descriptor we already gave up */
        if (read_batch(b) != MOSQ_ERR_SUCCESS) {
            /* libmosquitto normally ran on_disconnect already; make sure. */
            if (b->mqtt_wsi == wsi) on_disconnect(b->mosq, b, MOSQ_ERR_CONN_LOST, NULL);
            return 0;
        }
        /* Deliver what the batch produced before the journal's fsync. */
        mosquitto_loop_write(b->mosq, 1);
        order_service_flush(b);
        request_write(b);
        break;
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        if (wsi != b->mqtt_wsi) return -1;
        mosquitto_loop_write(b->mosq, 1);
        request_write(b);
        break;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (wsi == b->mqtt_wsi) b->mqtt_wsi = NULL;
        break;
    default:
        break;
    }
    return 0;
}

const struct lws_protocols mqtt_link_protocol = {"kb-mqtt-link", link_callback, 0, 0, 0, NULL, 0};
