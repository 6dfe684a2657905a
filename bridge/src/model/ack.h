/* ack.h - the answer to a request, and who it goes back to, with no
 * transport in either.
 *
 * An origin is the device a request came from (tenant, username, role)
 * plus the reply callback its adapter registered: the MQTT adapter answers
 * on the device's ack topic, the legacy gateway on the WebSocket connection
 * `reply_id` names. The pipeline keeps a copy of the origin with each held
 * ack and calls `reply` once, when the answer is final; it never looks at
 * reply_ctx or reply_id. */
#ifndef KB_ACK_H
#define KB_ACK_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "errors.h"
#include "order_status.h"
#include "order_validate.h"
#include "registry.h"

typedef enum { KB_ACK_ACCEPTED, KB_ACK_DUPLICATE, KB_ACK_REJECTED } kb_ack_result;

typedef struct {
    kb_ack_result result;
    const char *order_number; /* "" if the request named none */
    int64_t seq;              /* accepted, duplicate: the change's seq */
    order_status status;      /* accepted, duplicate: the order's status */
    kb_error error;           /* rejected */
    const char *detail;       /* rejected: for a human */
} kb_ack;

typedef struct kb_origin kb_origin;
/* Called on the event loop's thread, once per request, with an ack that
 * lives only for the call. */
typedef void (*kb_reply_fn)(void *ctx, const kb_origin *from, const kb_ack *ack);

struct kb_origin {
    char tenant[REGISTRY_ID_MAX + 1];
    char device[REGISTRY_ID_MAX + 1]; /* registry username, or a legacy anonymous name */
    device_role role;
    char station[REGISTRY_ID_MAX + 1]; /* a kitchen bound to one station; "" if none */
    kb_reply_fn reply;
    void *reply_ctx;
    uint64_t reply_id; /* the adapter's own handle, e.g. a connection id */
};

/* The contract's ack document (docs/CONTRACT.md "Acks"); NULL if out of memory. */
cJSON *kb_ack_json(const kb_ack *ack);

#endif
