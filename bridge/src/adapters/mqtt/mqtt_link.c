/* mqtt_link.c - see mqtt_link.h for how libmosquitto runs inside the
 * libwebsockets loop. */
#include "mqtt_link.h"

#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define KEEPALIVE_S 30
#define SESSION_EXPIRY_S (7 * 24 * 3600)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000         /* a broker that cannot be reached */
#define REFUSED_BACKOFF_MAX_MS 5000 /* one that refuses: only a fix on its side helps */
#define REMINDER_MS 60000.0         /* "still refused/unreachable" at most this often */
#define REASON_QUIET_MS 10000.0     /* a changed reason is logged at most this often */
#define BRIDGE_INFLIGHT 1000
#define READ_BATCH_MAX 4096

#define ROUTES_MAX 16
#define OBSERVERS_MAX 8

typedef struct {
    char *filter;
    int options; /* MQTT v5 subscription options, e.g. no-local */
    mqtt_route_fn fn;
    void *ctx;
} route;

typedef struct {
    mqtt_event_fn fn;
    void *ctx;
} observer;

/* The connection's own state; the public part of it is in the status
 * registry (broker state, reason, since, counters). */
struct mqtt_link {
    kb_config *config; /* the password is re-read into it while refused */
    kb_status *status;
    struct lws_vhost *vhost;
    struct mosquitto *mosq;
    struct lws *wsi;          /* the adopted dup of libmosquitto's socket */
    int first_attempt;        /* no connect call has succeeded yet */
    int connected_before;     /* a CONNACK came once: later ones are reconnects */
    int stopping;
    double next_connect_ms;   /* when to try the broker again */
    int backoff_ms;
    uint64_t attempts;        /* failed attempts since the last state change */
    uint64_t outage_attempts; /* failed attempts since the last CONNACK */
    double outage_start_ms;   /* when the first of those failed */
    double last_line_ms;      /* when the last change or reminder was logged */
    int refusal_rc;           /* this attempt's CONNACK refusal code, 0 if none */
    char *will_topic, *will_payload;
    route routes[ROUTES_MAX];
    int n_routes;
    observer on_connect[OBSERVERS_MAX], after_batch[OBSERVERS_MAX];
    int n_on_connect, n_after_batch;
    mqtt_delivered_fn delivered;
    void *delivered_ctx;
};

/* ---- The connection's state: one log line per change, then reminders ---- */

static int login_refusal(int rc)
{
    return rc == CONNACK_REFUSED_BAD_USERNAME_PASSWORD || rc == CONNACK_REFUSED_NOT_AUTHORIZED ||
           rc == MQTT_RC_BAD_USERNAME_OR_PASSWORD || rc == MQTT_RC_NOT_AUTHORIZED;
}

static int backoff_cap_ms(const mqtt_link *l)
{
    return l->status->broker == BROKER_REFUSED ? REFUSED_BACKOFF_MAX_MS : BACKOFF_MAX_MS;
}

/* The line for entering the current state (or a changed reason). */
static void log_change(const mqtt_link *l)
{
    const kb_status *s = l->status;
    const kb_config *c = l->config;
    if (s->broker == BROKER_REFUSED && login_refusal(l->refusal_rc))
        log_error("broker refused the bridge's login (%s): the broker's dynamic-security store does not accept "
                  "%s's password in KB_BRIDGE_PASSWORD_FILE=%s; is the broker running with the store broker-init "
                  "made, and can it read it? Retrying with backoff up to %d s",
                  s->broker_reason, c->bridge_user, c->bridge_password_file, REFUSED_BACKOFF_MAX_MS / 1000);
    else if (s->broker == BROKER_REFUSED)
        log_error("broker at %s:%d refused the bridge's connection (%s); retrying with backoff up to %d s",
                  c->mqtt_host, c->mqtt_port, s->broker_reason, REFUSED_BACKOFF_MAX_MS / 1000);
    else
        log_warn("cannot reach the broker at %s:%d (%s): is it running and listening there (KB_MQTT_HOST, "
                 "KB_MQTT_PORT)? Retrying with backoff up to %d s",
                 c->mqtt_host, c->mqtt_port, s->broker_reason, BACKOFF_MAX_MS / 1000);
}

static void log_reminder(const mqtt_link *l)
{
    const kb_status *s = l->status;
    const kb_config *c = l->config;
    unsigned long long n = (unsigned long long)l->attempts;
    if (s->broker == BROKER_REFUSED && login_refusal(l->refusal_rc))
        log_error("still refused by the broker (%s), %llu attempts since %s; check %s's password in "
                  "KB_BRIDGE_PASSWORD_FILE=%s against the broker's dynamic-security store",
                  s->broker_reason, n, s->broker_since, c->bridge_user, c->bridge_password_file);
    else if (s->broker == BROKER_REFUSED)
        log_error("still refused by the broker at %s:%d (%s), %llu attempts since %s", c->mqtt_host,
                  c->mqtt_port, s->broker_reason, n, s->broker_since);
    else
        log_warn("still cannot reach the broker at %s:%d (%s), %llu attempts since %s; is it running "
                 "(KB_MQTT_HOST, KB_MQTT_PORT)?", c->mqtt_host, c->mqtt_port, s->broker_reason, n, s->broker_since);
}

/* Copies a library message without its trailing period. */
static void set_reason(kb_status *s, const char *why)
{
    snprintf(s->broker_reason, sizeof s->broker_reason, "%s", why);
    size_t n = strlen(s->broker_reason);
    if (n && s->broker_reason[n - 1] == '.') s->broker_reason[n - 1] = '\0';
}

static void enter_state(mqtt_link *l, broker_state state)
{
    kb_status *s = l->status;
    s->broker = state;
    s->broker_connected = state == BROKER_CONNECTED;
    l->attempts = 0;
    kb_iso_time(s->broker_since, sizeof s->broker_since);
    status_changed(s);
}

/* One failed attempt: a refusal, or no broker to talk to. Logs only when
 * the state or the reason changes, and a reminder now and then. */
static void link_failed(mqtt_link *l, broker_state state, const char *why)
{
    kb_status *s = l->status;
    double now = kb_now_ms();
    char previous[sizeof s->broker_reason];
    memcpy(previous, s->broker_reason, sizeof previous);
    int changed = s->broker != state;
    if (changed) enter_state(l, state);
    set_reason(s, why);
    l->attempts++;
    l->outage_attempts++;
    if (changed || (strcmp(previous, s->broker_reason) != 0 && now - l->last_line_ms >= REASON_QUIET_MS)) {
        l->last_line_ms = now;
        log_change(l);
    } else if (now - l->last_line_ms >= REMINDER_MS) {
        l->last_line_ms = now;
        log_reminder(l);
    }
}

/* The next attempt waits for the backoff, which then doubles up to its cap. */
static void schedule_retry(mqtt_link *l)
{
    int cap = backoff_cap_ms(l);
    int wait = l->backoff_ms < cap ? l->backoff_ms : cap;
    l->next_connect_ms = kb_now_ms() + wait;
    l->backoff_ms = wait * 2 > cap ? cap : wait * 2;
}

/* While refused, the password file is read again before each attempt, so
 * fixing it needs no restart. The password itself is never logged. */
static void reload_password(mqtt_link *l)
{
    kb_config *c = l->config;
    char fresh[sizeof c->bridge_password], err[CONFIG_PATH_MAX + 64];
    if (config_read_password(c, fresh, sizeof fresh, err, sizeof err) != 0) return;
    if (strcmp(fresh, c->bridge_password) != 0) {
        memcpy(c->bridge_password, fresh, strlen(fresh) + 1);
        if (mosquitto_username_pw_set(l->mosq, c->bridge_user, c->bridge_password) == MOSQ_ERR_SUCCESS)
            log_info("the password in KB_BRIDGE_PASSWORD_FILE=%s changed; logging in with it",
                     c->bridge_password_file);
    }
    memset(fresh, 0, sizeof fresh);
}

static void request_write(mqtt_link *l)
{
    if (l->wsi && mosquitto_want_write(l->mosq)) lws_callback_on_writable(l->wsi);
}

/* Tears down the adopted descriptor. shutdown() is needed because our dup
 * would otherwise keep the TCP connection alive after libmosquitto closes
 * its own descriptor. */
static void drop_adopted(mqtt_link *l)
{
    if (!l->wsi) return;
    int fd = lws_get_socket_fd(l->wsi);
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
    lws_set_opaque_user_data(l->wsi, NULL); /* its close may come after the link is gone */
    lws_set_timeout(l->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    l->wsi = NULL;
}

static void notify(const observer *list, int n)
{
    for (int i = 0; i < n; i++) list[i].fn(list[i].ctx);
}

static void on_connect(struct mosquitto *mosq, void *ctx, int rc, int flags, const mosquitto_property *props)
{
    (void)flags;
    (void)props;
    mqtt_link *l = ctx;
    kb_status *s = l->status;
    if (rc != 0) {
        /* on_disconnect follows and schedules the retry. */
        s->broker_refusals++;
        l->refusal_rc = rc;
        link_failed(l, BROKER_REFUSED, mosquitto_reason_string(rc));
        return;
    }
    if (l->connected_before) s->broker_reconnects++;
    l->connected_before = 1;
    l->backoff_ms = BACKOFF_MIN_MS;
    if (l->outage_attempts)
        log_info("connected to the broker at %s:%d after %llu failed attempts over %.1f s (it %s: %s)",
                 l->config->mqtt_host, l->config->mqtt_port, (unsigned long long)l->outage_attempts,
                 (kb_now_ms() - l->outage_start_ms) / 1000.0,
                 s->broker == BROKER_REFUSED ? "had refused the bridge" : "was unreachable", s->broker_reason);
    else
        log_info("connected to the broker at %s:%d", l->config->mqtt_host, l->config->mqtt_port);
    enter_state(l, BROKER_CONNECTED);
    s->broker_reason[0] = '\0';
    l->outage_attempts = 0;
    l->last_line_ms = kb_now_ms();
    for (int i = 0; i < l->n_routes; i++)
        mosquitto_subscribe_v5(mosq, NULL, l->routes[i].filter, 1, l->routes[i].options, NULL);
    notify(l->on_connect, l->n_on_connect);
}

static void on_disconnect(struct mosquitto *mosq, void *ctx, int rc, const mosquitto_property *props)
{
    (void)mosq;
    (void)props;
    mqtt_link *l = ctx;
    kb_status *s = l->status;
    if (l->stopping) return; /* our own goodbye (mqtt_link_free) */
    if (s->broker_connected) {
        /* Not a failed attempt: the reconnects that follow are. */
        enter_state(l, BROKER_UNREACHABLE);
        set_reason(s, mosquitto_strerror(rc));
        l->outage_start_ms = l->last_line_ms = kb_now_ms();
        log_warn("lost the broker connection (%s); reconnecting with backoff up to %d s", s->broker_reason,
                 BACKOFF_MAX_MS / 1000);
    } else if (!l->refusal_rc) {
        s->broker_connect_failures++;
        link_failed(l, BROKER_UNREACHABLE, "the broker closed the connection before answering the login");
    }
    schedule_retry(l);
    drop_adopted(l);
}

static void on_message(struct mosquitto *mosq, void *ctx, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    (void)mosq;
    (void)props;
    mqtt_link *l = ctx;
    for (int i = 0; i < l->n_routes; i++) {
        bool match = false;
        if (mosquitto_topic_matches_sub(l->routes[i].filter, msg->topic, &match) == MOSQ_ERR_SUCCESS && match) {
            l->routes[i].fn(l->routes[i].ctx, msg->topic, msg->payload, (size_t)msg->payloadlen, msg->retain);
            return;
        }
    }
}

static void on_publish(struct mosquitto *mosq, void *ctx, int mid, int reason, const mosquitto_property *props)
{
    (void)mosq;
    (void)props;
    mqtt_link *l = ctx;
    if (reason >= 0x80) log_error("broker refused publish %d (reason 0x%02x)", mid, reason);
    if (l->delivered) l->delivered(l->delivered_ctx, mid);
}

mqtt_link *mqtt_link_new(kb_config *config, kb_status *status, struct lws_vhost *vhost)
{
    mqtt_link *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->config = config;
    l->status = status;
    l->vhost = vhost;
    l->first_attempt = 1;
    l->mosq = mosquitto_new("kb-bridge", false, l);
    if (!l->mosq) {
        free(l);
        return NULL;
    }
    mosquitto_int_option(l->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(l->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_int_option(l->mosq, MOSQ_OPT_SEND_MAXIMUM, BRIDGE_INFLIGHT);
    mosquitto_username_pw_set(l->mosq, config->bridge_user, config->bridge_password);
    mosquitto_connect_v5_callback_set(l->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(l->mosq, on_disconnect);
    mosquitto_message_v5_callback_set(l->mosq, on_message);
    mosquitto_publish_v5_callback_set(l->mosq, on_publish);
    l->backoff_ms = BACKOFF_MIN_MS;
    l->outage_start_ms = kb_now_ms();
    return l;
}

int mqtt_link_route(mqtt_link *l, const char *filter, int no_local, mqtt_route_fn fn, void *ctx)
{
    if (l->n_routes >= ROUTES_MAX) return -1;
    char *copy = strdup(filter);
    if (!copy) return -1;
    l->routes[l->n_routes++] = (route){copy, no_local ? MQTT_SUB_OPT_NO_LOCAL : 0, fn, ctx};
    return 0;
}

static int add_observer(observer *list, int *n, mqtt_event_fn fn, void *ctx)
{
    if (*n >= OBSERVERS_MAX) return -1;
    list[(*n)++] = (observer){fn, ctx};
    return 0;
}

int mqtt_link_on_connect(mqtt_link *l, mqtt_event_fn fn, void *ctx)
{
    return add_observer(l->on_connect, &l->n_on_connect, fn, ctx);
}

int mqtt_link_after_batch(mqtt_link *l, mqtt_event_fn fn, void *ctx)
{
    return add_observer(l->after_batch, &l->n_after_batch, fn, ctx);
}

void mqtt_link_on_delivered(mqtt_link *l, mqtt_delivered_fn fn, void *ctx)
{
    l->delivered = fn;
    l->delivered_ctx = ctx;
}

int mqtt_link_set_will(mqtt_link *l, const char *topic, const char *payload)
{
    free(l->will_topic);
    free(l->will_payload);
    l->will_topic = strdup(topic);
    l->will_payload = strdup(payload);
    if (!l->will_topic || !l->will_payload) return -1;
    return mosquitto_will_set_v5(l->mosq, topic, (int)strlen(payload), payload, 1, true, NULL) == MOSQ_ERR_SUCCESS
               ? 0
               : -1;
}

int mqtt_link_connected(const mqtt_link *l) { return l->status->broker_connected; }

void mqtt_link_free(mqtt_link *l)
{
    if (!l) return;
    l->stopping = 1;
    if (l->status->broker_connected) {
        /* A clean disconnect would suppress the will; publish it ourselves. */
        if (l->will_topic)
            mosquitto_publish_v5(l->mosq, NULL, l->will_topic, (int)strlen(l->will_payload), l->will_payload, 1, true,
                                 NULL);
        mosquitto_loop_write(l->mosq, 1);
        enter_state(l, BROKER_STOPPING); /* a chosen disconnect, not a lost connection */
        mosquitto_disconnect_v5(l->mosq, 0, NULL);
    }
    drop_adopted(l);
    mosquitto_destroy(l->mosq);
    for (int i = 0; i < l->n_routes; i++) free(l->routes[i].filter);
    free(l->will_topic);
    free(l->will_payload);
    free(l);
}

/* A blocking connect: the broker is on loopback (or the compose network),
 * where a connect succeeds or is refused at once. */
static void try_connect(mqtt_link *l)
{
    if (l->status->broker == BROKER_REFUSED) reload_password(l);
    l->refusal_rc = 0;
    mosquitto_property *props = NULL;
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, SESSION_EXPIRY_S);
    int rc = l->first_attempt ? mosquitto_connect_bind_v5(l->mosq, l->config->mqtt_host, l->config->mqtt_port,
                                                          KEEPALIVE_S, NULL, props)
                              : mosquitto_reconnect(l->mosq);
    int err = errno;
    mosquitto_property_free_all(&props);
    if (rc != MOSQ_ERR_SUCCESS) {
        l->status->broker_connect_failures++;
        link_failed(l, BROKER_UNREACHABLE, rc == MOSQ_ERR_ERRNO ? strerror(err) : mosquitto_strerror(rc));
        schedule_retry(l);
        return;
    }
    l->first_attempt = 0;
    lws_sock_file_fd_type fd;
    fd.filefd = dup(mosquitto_socket(l->mosq));
    l->wsi = fd.filefd < 0 ? NULL
                           : lws_adopt_descriptor_vhost(l->vhost, LWS_ADOPT_RAW_FILE_DESC, fd, MQTT_LINK_PROTOCOL_NAME,
                                                        NULL);
    if (!l->wsi) {
        log_error("cannot adopt the broker socket into the event loop");
        if (fd.filefd >= 0) close(fd.filefd);
        mosquitto_disconnect(l->mosq);
        l->next_connect_ms = kb_now_ms() + BACKOFF_MAX_MS;
        return;
    }
    lws_set_opaque_user_data(l->wsi, l);
    request_write(l);
}

void mqtt_link_tick(mqtt_link *l)
{
    if (!l->wsi) {
        if (kb_now_ms() >= l->next_connect_ms) try_connect(l);
        return;
    }
    mosquitto_loop_misc(l->mosq);
    request_write(l);
}

int mqtt_link_publish(mqtt_link *l, const char *topic, const void *payload, size_t len, int retain, int *mid)
{
    int rc = mosquitto_publish_v5(l->mosq, mid, topic, (int)len, payload, 1, retain, NULL);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
        log_error("publish to %s failed: %s", topic, mosquitto_strerror(rc));
        return -1;
    }
    request_write(l);
    return 0;
}

/* Reads every packet the socket already holds, so that one journal commit
 * (one fsync, by the after-batch observers) covers the whole burst: this
 * is the group commit. The cap keeps HTTP clients served during a flood. */
static int read_batch(mqtt_link *l)
{
    int fd = mosquitto_socket(l->mosq);
    for (int i = 0; i < READ_BATCH_MAX; i++) {
        int rc = mosquitto_loop_read(l->mosq, 1);
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
    mqtt_link *l = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (!l || wsi != l->wsi) return -1; /* a descriptor we already gave up */
        if (read_batch(l) != MOSQ_ERR_SUCCESS) {
            /* libmosquitto normally ran on_disconnect already; make sure. */
            if (l->wsi == wsi) on_disconnect(l->mosq, l, MOSQ_ERR_CONN_LOST, NULL);
            return 0;
        }
        /* Deliver what the batch produced before the journal's fsync. */
        mosquitto_loop_write(l->mosq, 1);
        notify(l->after_batch, l->n_after_batch);
        request_write(l);
        break;
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        if (!l || wsi != l->wsi) return -1;
        mosquitto_loop_write(l->mosq, 1);
        request_write(l);
        break;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (l && wsi == l->wsi) l->wsi = NULL;
        break;
    default:
        break;
    }
    return 0;
}

const struct lws_protocols mqtt_link_protocol = {MQTT_LINK_PROTOCOL_NAME, link_callback, 0, 0, 0, NULL, 0};
