/* status.h - the bridge's passive status and metrics registry.
 *
 * Flags, counters and a latency histogram that the modules which know a
 * fact write, and that /health, /metrics and the retained health document
 * read. Nothing here publishes or calls anyone: a change that /health shows
 * bumps `generation` (status_changed), and whoever publishes health compares
 * it with the generation it last sent. One thread (the event loop) writes and
 * reads it, so no field needs a lock. */
#ifndef KB_STATUS_H
#define KB_STATUS_H

#include <stdint.h>
#include <time.h>

#include "errors.h"

#define KB_LATENCY_BUCKETS 12
#define KB_TICKET_BUCKETS 8
#define KB_TICKET_TENANTS_MAX 64
/* Upper bounds of the ticket time histogram's buckets, in s. */
extern const double kb_ticket_bounds_s[KB_TICKET_BUCKETS];

/* Ticket times (created -> first ready) of one tenant's orders. */
typedef struct {
    char tenant[33];
    uint64_t buckets[KB_TICKET_BUCKETS]; /* per bucket; cumulative at render */
    uint64_t count;
    double sum_s;
} kb_ticket_histogram;
/* Upper bounds of the ack latency histogram's buckets, in ms. */
extern const double kb_latency_bounds_ms[KB_LATENCY_BUCKETS];

/* Where the broker connection stands (written by the MQTT adapter). */
typedef enum {
    BROKER_CONNECTING,  /* no attempt has finished yet */
    BROKER_CONNECTED,
    BROKER_REFUSED,     /* the broker answered CONNACK with a refusal */
    BROKER_UNREACHABLE, /* connect() failed, or the connection was lost */
    BROKER_STOPPING,    /* the bridge is saying goodbye */
} broker_state;

typedef struct {
    uint64_t generation; /* bumped by every change /health shows */
    time_t started_at;

    /* The order pipeline. */
    uint64_t accepted;       /* new orders */
    uint64_t status_changes; /* accepted status changes and cancels */
    uint64_t duplicates;
    uint64_t rejected[KB_ERR__COUNT];
    uint64_t ack_latency_buckets[KB_LATENCY_BUCKETS]; /* per bucket; cumulative at render */
    uint64_t ack_latency_count;
    double ack_latency_sum_ms;

    /* The journal. */
    int journal_ok;
    char journal_error[256];
    uint64_t journal_failures; /* failed writes or commits */
    uint64_t pruned_orders;    /* closed instances deleted by retention */
    uint64_t pruned_events;    /* and their events */
    uint64_t uplink_replayed;  /* events re-sent to head office */

    /* The broker link (MQTT adapter). broker_connected is 1 exactly while
     * broker == BROKER_CONNECTED. */
    int broker_connected;
    broker_state broker;
    char broker_reason[128]; /* why not connected, e.g. "Not authorized" */
    char broker_since[32];   /* ISO time of the last change of `broker` */
    uint64_t broker_reconnects;
    uint64_t broker_refusals;         /* CONNACKs refusing the bridge */
    uint64_t broker_connect_failures; /* attempts that did not reach the broker */
    int access_synced; /* the registry's devices and roles sent to the broker since this connect */
    /* The broker's own bridge to head office (docs/UPLINK.md), as the broker
     * reports it on $SYS/broker/connection/<name>/state: -1 never heard of
     * (no uplink configured), 0 down, 1 up. */
    int uplink_link;
    char uplink_name[64];
    char uplink_since[32];

    /* Ticket times per tenant since the bridge started (reports' figures
     * for Prometheus); a tenant beyond KB_TICKET_TENANTS_MAX is not counted. */
    kb_ticket_histogram tickets[KB_TICKET_TENANTS_MAX];
    int n_ticket_tenants;
} kb_status;

/* A fresh status: journal ok, broker connecting, started now. */
void status_init(kb_status *s);
void status_changed(kb_status *s);
void status_journal_failed(kb_status *s, const char *why);
/* Returns 1 if the journal had been failing (and is now marked ok). */
int status_journal_recovered(kb_status *s);
void status_record_ack_latency(kb_status *s, double ms);
void status_record_ticket(kb_status *s, const char *tenant, double ms);
void status_set_access(kb_status *s, int synced);
/* The broker said its bridge connection `name` is up (1) or down (0). */
void status_set_uplink_link(kb_status *s, const char *name, int up);

#endif
