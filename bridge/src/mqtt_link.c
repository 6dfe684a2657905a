/* mqtt_link.c - see mqtt_link.h for how libmosquitto runs inside the
 * libwebsockets loop. */
#include "mqtt_link.h"

#include <errno.h>
#include <mqtt_protocol.h>
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
#define BACKOFF_MAX_MS 2000
#define BRIDGE_INFLIGHT 1000
#define READ_BATCH_MAX 4096

/* The retained health while the bridge is away: its will, and its goodbye. */
static const char health_offline[] = "{\"status\":\"offline\",\"broker\":\"disconnected\"}";

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

static void on_connect(struct mosquitto *mosq, void *ctx, int rc, int flags, const mosquitto_property *props)
{
    (void)flags;
    (void)props;
    bridge *b = ctx;
    if (rc != 0) {
        log_error("broker refused the bridge: %s", mosquitto_reason_string(rc));
        return;
    }
    static int connected_before;
    if (connected_before) b->stats.broker_reconnects++;
    connected_before = 1;
    b->broker_connected = 1;
    b->connect_backoff_ms = BACKOFF_MIN_MS;
    log_info("connected to the broker at %s:%d", b->config.mqtt_host, b->config.mqtt_port);
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
    health_publish(b);
}

static void on_disconnect(struct mosquitto *mosq, void *ctx, int rc, const mosquitto_property *props)
{
    (void)mosq;
    (void)props;
    bridge *b = ctx;
    if (b->broker_connected) log_warn("lost the broker connection (%s)", mosquitto_strerror(rc));
    b->broker_connected = 0;
    b->next_connect_ms = bridge_now_ms() + b->connect_backoff_ms;
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
    return 0;
}

void mqtt_link_destroy(bridge *b)
{
    if (!b->mosq) return;
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
    mosquitto_property *props = NULL;
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, SESSION_EXPIRY_S);
    int rc = first ? mosquitto_connect_bind_v5(b->mosq, b->config.mqtt_host, b->config.mqtt_port,
                                               KEEPALIVE_S, NULL, props)
                   : mosquitto_reconnect(b->mosq);
    mosquitto_property_free_all(&props);
    if (rc != MOSQ_ERR_SUCCESS) {
        if (b->connect_backoff_ms == BACKOFF_MIN_MS)
            log_warn("cannot reach the broker at %s:%d (%s); retrying", b->config.mqtt_host,
                     b->config.mqtt_port, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        b->connect_backoff_ms = b->connect_backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->connect_backoff_ms * 2;
        b->next_connect_ms = bridge_now_ms() + b->connect_backoff_ms;
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
