/* legacy_frames.h - the old sync server's JSON frames, parsed and built.
 *
 * Clients written for the old Node.js "kitchen sync server" exchange
 * {"type": ..., "payload": ..., "timestamp": ...} over a WebSocket. This
 * module translates between those frames and what the order service takes
 * and publishes. It is pure (no I/O, no global state) so it is unit-tested
 * and fuzzed on its own; legacy_gateway.c does the connections.
 *
 * Translation never validates an order itself: a legacy new_order's payload
 * is handed to the order service as is (the one validation path), and
 * orders go out as the exact document published on MQTT (lossless). */
#ifndef KB_LEGACY_FRAMES_H
#define KB_LEGACY_FRAMES_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "ack.h"
#include "order_validate.h"
#include "registry.h"

/* An order may be ORDER_MAX_BYTES; the frame around it needs a little more. */
#define LEGACY_FRAME_MAX (ORDER_MAX_BYTES + 4096)
#define LEGACY_CLIENT_ID_MAX 64

typedef enum {
    LEGACY_NEW_ORDER,    /* POS: an order */
    LEGACY_ORDER_UPDATE, /* POS or kitchen: {order_number, status} */
    LEGACY_ORDER_ACK,    /* kitchen: "I have it" (type order_ack or ack) */
    LEGACY_PING,
    LEGACY_PONG          /* harmless; ignored */
} legacy_frame_type;

typedef enum {
    LEGACY_OK = 0,
    LEGACY_ERR_MALFORMED_JSON,
    LEGACY_ERR_NOT_AN_OBJECT,
    LEGACY_ERR_MISSING_TYPE,
    LEGACY_ERR_UNKNOWN_TYPE,
    LEGACY_ERR__PARSE_END, /* the codes below are raised by the gateway */
    LEGACY_ERR_FRAME_TOO_LARGE = LEGACY_ERR__PARSE_END,
    LEGACY_ERR_BINARY_FRAME,
    LEGACY_ERR_RATE_LIMITED,
    LEGACY_ERR_FORBIDDEN,
    LEGACY_ERR_UNKNOWN_ORDER
} legacy_error;

/* The stable wire code of an error ("unknown_type"). */
const char *legacy_error_code(legacy_error e);

typedef struct {
    legacy_frame_type type;
    /* NEW_ORDER, ORDER_UPDATE, ORDER_ACK: the message for the order service
     * (malloc'd JSON text), in the MQTT contract's shape. */
    char *request;
    /* The order number when it is readable (a string, or a whole number as
     * the validator accepts it); "" otherwise. */
    char order_number[ORDER_NUMBER_MAX + 1];
    /* NEW_ORDER: the payload's tenant_id when it is a valid registry id
     * (open mode routes by it); "" otherwise. */
    char tenant[REGISTRY_ID_MAX + 1];
} legacy_frame;

/* Parses one text frame. `from_pos` decides how an order_update is phrased
 * (a POS asks with "action":"status"). On error *detail says why. */
legacy_error legacy_frame_parse(const char *text, size_t len, int from_pos, legacy_frame *out,
                                char *detail, size_t detail_len);
void legacy_frame_free(legacy_frame *f);

/* Builders return malloc'd frame text, NULL when out of memory. */
/* {"type":"new_order","payload":<order_doc>,"timestamp":...}; order_doc is
 * the published order JSON, copied byte for byte. */
char *legacy_frame_new_order(const char *order_doc, const char *timestamp);
/* {"type":"order_status_update","payload":{order_number,status,updated_at,
 * seq,tenant_id}} from the published order JSON; NULL if it is not one. */
char *legacy_frame_status_update(const char *order_doc, const char *timestamp);
/* {"type":"ack","payload":<ack with "error" always present>} from an ack as
 * the MQTT contract phrases it. */
char *legacy_frame_ack(const kb_ack *ack, const char *timestamp);
char *legacy_frame_error(legacy_error e, const char *detail, const char *timestamp);
char *legacy_frame_connected(const char *client_id, const char *client_type, const char *device,
                             const char *tenant, const char *timestamp);
char *legacy_frame_pong(const char *timestamp);

/* 1 if s is 1-64 characters of [A-Za-z0-9._:-], the shape of the old
 * clients' ids ("KITCHEN-1735891234567-k2j3h4g5f"). */
int legacy_client_id_valid(const char *s);

#endif
