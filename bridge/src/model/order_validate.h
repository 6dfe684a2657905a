/* order_validate.h - where every incoming order message is parsed and checked.
 *
 * A POS submit, a POS command (cancel, status) and a kitchen status change all
 * arrive as JSON. This module turns the raw bytes into an order_request or a
 * rejection with a machine-readable code and a human detail. It is pure: no
 * I/O, no global state, so it is unit-tested and fuzzed on its own.
 *
 * A new order is kept as the cJSON document the POS sent, every field
 * included (unknown ones untouched); only tenant_id is normalised to a
 * string. The bridge's own fields are added later by the order service. */
#ifndef KB_ORDER_VALIDATE_H
#define KB_ORDER_VALIDATE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "errors.h"
#include "order_status.h"

#define ORDER_MAX_BYTES 65536
#define ORDER_NUMBER_MAX 64
#define ORDER_MAX_ITEMS 200
#define ORDER_TEXT_MAX 2000
#define ORDER_DETAIL_MAX 160
#define ORDER_PICKUP_NAME_MAX 32


typedef enum {
    ORDER_REQ_CREATE, /* a new order from a POS */
    ORDER_REQ_STATUS, /* a status change (kitchen, or POS with action=status) */
    ORDER_REQ_CANCEL, /* a POS cancel */
    ORDER_REQ_STATION /* a kitchen's report of one station's part: preparing or ready */
} order_request_kind;

typedef enum { ORDER_SOURCE_POS, ORDER_SOURCE_KITCHEN } order_source;

typedef struct {
    order_request_kind kind;
    char order_number[ORDER_NUMBER_MAX + 1];
    order_status status;   /* STATUS, STATION: the wanted status; CANCEL: cancelled */
    char station[32 + 1];  /* STATION: the station (a registry id) */
    cJSON *order;          /* CREATE: the order document, owned; else NULL */
} order_request;

typedef struct {
    kb_error error;
    char order_number[ORDER_NUMBER_MAX + 1]; /* "" when none could be read */
    char detail[ORDER_DETAIL_MAX];
} order_rejection;

/* Parses `len` bytes from `source` for `tenant`. Returns KB_OK and fills
 * *req (free with order_request_free), or an error with *rej filled. */
kb_error order_request_parse(const char *payload, size_t len, order_source source,
                             const char *tenant, order_request *req, order_rejection *rej);
void order_request_free(order_request *req);

/* True if s is a valid order number (1-64 of [A-Za-z0-9._-]). */
int order_number_valid(const char *s);

/* The normalisers the validator applies, for the legacy frames to read a
 * frame the same way. An order_number value as the validator reads it (a
 * valid string, or a whole number 0..1e15 as its decimal string) into out:
 * 0, or -1 with out "". */
int order_number_text(const cJSON *v, char out[ORDER_NUMBER_MAX + 1]);
/* A tenant_id value as text: the string itself, or a whole number
 * (|n| <= 1e15) written into num; NULL if it is neither. */
const char *order_tenant_text(const cJSON *v, char num[32]);

#endif
