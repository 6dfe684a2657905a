/* errors.h - why a request was refused: the stable codes every ack and
 * rejection carries (docs/CONTRACT.md), one table for every transport. */
#ifndef KB_ERRORS_H
#define KB_ERRORS_H

typedef enum {
    KB_OK = 0,
    KB_ERR_MALFORMED_JSON,
    KB_ERR_NOT_AN_OBJECT,
    KB_ERR_PAYLOAD_TOO_LARGE,
    KB_ERR_MISSING_FIELD,
    KB_ERR_INVALID_FIELD,
    KB_ERR_TENANT_MISMATCH,
    KB_ERR_UNKNOWN_ORDER,
    KB_ERR_UNKNOWN_STATUS,
    KB_ERR_ILLEGAL_TRANSITION,
    KB_ERR_ORDER_CLOSED,
    KB_ERR_UNKNOWN_ACTION,
    KB_ERR_JOURNAL_UNAVAILABLE,
    KB_ERR_ORDER_NUMBER_IN_USE, /* an open order has this number, with other content */
    KB_ERR_WRONG_STATION,       /* a station device reported another station's part */
    KB_ERR_UNKNOWN_STATION,     /* the order has no part for that station */
    KB_ERR__COUNT
} kb_error;

/* The stable wire code of an error ("illegal_transition"). */
const char *kb_error_code(kb_error e);

#endif
