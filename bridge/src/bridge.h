/* bridge.h - the bridge's one shared context.
 *
 * Everything runs on one thread: libwebsockets owns the event loop and
 * serves HTTP; libmosquitto's socket is adopted into that loop
 * (mqtt_link.c). So no field here needs a lock. */
#ifndef KB_BRIDGE_H
#define KB_BRIDGE_H

#include <mosquitto.h>
#include <libwebsockets.h>
#include <stdint.h>
#include <time.h>

#include "ack_queue.h"
#include "config.h"
#include "journal.h"
#include "order_validate.h"
#include "registry.h"

#define KB_VERSION "0.1.0"
#define LATENCY_BUCKETS 12

typedef struct {
    uint64_t accepted;            /* new orders */
    uint64_t status_changes;      /* accepted status changes and cancels */
    uint64_t duplicates;
    uint64_t rejected[KB_ERR__COUNT];
    uint64_t broker_reconnects;
    uint64_t broker_refusals;         /* CONNACKs refusing the bridge */
    uint64_t broker_connect_failures; /* attempts that did not reach the broker */
    uint64_t journal_failures;
    uint64_t uplink_replayed;     /* events re-sent to head office */
    uint64_t pruned_orders;       /* closed instances deleted by retention */
    uint64_t pruned_events;       /* and their events */
    uint64_t ack_latency_buckets[LATENCY_BUCKETS]; /* cumulative at render */
    uint64_t ack_latency_count;
    double ack_latency_sum_ms;
} bridge_stats;

/* Where the broker connection stands, for /health and for logging each
 * change once (mqtt_link.c). "connected" always matches broker_connected. */
typedef enum {
    BROKER_CONNECTING,  /* no attempt has finished yet */
    BROKER_CONNECTED,
    BROKER_REFUSED,     /* the broker answered CONNACK with a refusal */
    BROKER_UNREACHABLE, /* connect() failed, or the connection was lost */
} broker_state;

typedef struct {
    broker_state state;
    char reason[128];         /* why not connected, e.g. "Not authorized" */
    char since[32];           /* ISO time of the last state change */
    uint64_t attempts;        /* failed attempts since the last state change */
    uint64_t outage_attempts; /* failed attempts since the last CONNACK */
    double outage_start_ms;   /* when the first of those failed */
    double last_line_ms;      /* when the last change or reminder was logged */
    int refusal_rc;           /* this attempt's CONNACK refusal code, 0 if none */
} broker_link;

struct uplink_state;

typedef struct bridge {
    kb_config config;
    registry *registry;
    journal *journal;
    ack_queue acks;
    bridge_stats stats;

    struct mosquitto *mosq;
    struct lws_context *lws;
    struct lws_vhost *vhost;
    struct lws *mqtt_wsi;      /* the adopted dup of libmosquitto's socket */
    lws_sorted_usec_list_t tick;
    int broker_connected;      /* CONNACK received, not yet disconnected */
    int health_dirty;          /* health_changed() since the last retained health publish */
    int access_synced;         /* the registry's clients and roles sent to the broker since this connect */
    double next_connect_ms;    /* when to try the broker again */
    int connect_backoff_ms;
    broker_link link;          /* state, reason and counts for /health and logs */
    int journal_ok;
    char journal_error[256];
    struct uplink_state *uplink; /* NULL unless KB_UPLINK=1 (uplink_replay.c) */
    int stopping;
    time_t started_at;
    /* Set by main.c: asks for order_service_flush() on the next turn of the
     * event loop (called whenever a change leaves a batch open). */
    void (*commit_soon)(struct bridge *b);
    lws_sorted_usec_list_t commit_sul;
} bridge;

/* Milliseconds on a monotonic clock. */
double bridge_now_ms(void);
/* ISO 8601 UTC with milliseconds, e.g. 2026-11-25T06:50:00.123Z. */
void bridge_iso_time(char *buf, size_t len);

#endif
