/* ho_event.h - what the head-office consumer reads off the central broker,
 * as data: an outlet's event (docs/CONTRACT.md "Events"), on
 *   kitchen-bus/outlets/<outlet>/outlet/tenant/<tenant>/events  (live)
 *   kitchen-bus/outlets/<outlet>/replay/<tenant>                (the journal replay)
 * and the `seen` document it answers with. Pure: no I/O.
 *
 * Outlet and tenant ids are the registry's ([a-z0-9_-], 1-32), so they can
 * carry no MQTT wildcard or separator into the topics built from them. */
#ifndef KB_HO_EVENT_H
#define KB_HO_EVENT_H

#include <stddef.h>
#include <stdint.h>

#define HO_ID_MAX 32
#define HO_ORDER_NUMBER_MAX 64
#define HO_TOPIC_MAX 192

/* The subscriptions (QoS 1). */
#define HO_SUB_EVENTS "kitchen-bus/outlets/+/outlet/tenant/+/events"
#define HO_SUB_REPLAY "kitchen-bus/outlets/+/replay/+"

typedef struct {
    char outlet[HO_ID_MAX + 1];
    char tenant[HO_ID_MAX + 1];
    int64_t seq;         /* > 0 */
    int64_t created_seq; /* the instance; 0 if the event does not say (a bridge before contract 1.4) */
    char event[16];      /* created, status, station, closed */
    char order_number[HO_ORDER_NUMBER_MAX + 1];
    char status[16];
    char at[40];         /* ISO time of the change ("" if none) */
    int replay;          /* it came by the replay topic */
} ho_event;

/* Reads topic and payload: 0, or -1 with err set (a line for the log; the
 * payload itself is never put in it). `doc` of the stored row is the
 * payload as it came. */
int ho_event_parse(const char *topic, const void *payload, size_t len, ho_event *out, char *err, size_t errlen);

/* kitchen-bus/outlets/<outlet>/seen/<tenant> and {"seq": N}: 0, or -1 if
 * they do not fit. */
int ho_seen_topic(char *buf, size_t len, const char *outlet, const char *tenant);
int ho_seen_doc(char *buf, size_t len, int64_t seq);

#endif
