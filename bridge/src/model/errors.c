/* errors.c - see errors.h. */
#include "errors.h"

static const char *const error_codes[KB_ERR__COUNT] = {
    [KB_OK] = "ok",
    [KB_ERR_MALFORMED_JSON] = "malformed_json",
    [KB_ERR_NOT_AN_OBJECT] = "not_an_object",
    [KB_ERR_PAYLOAD_TOO_LARGE] = "payload_too_large",
    [KB_ERR_MISSING_FIELD] = "missing_field",
    [KB_ERR_INVALID_FIELD] = "invalid_field",
    [KB_ERR_TENANT_MISMATCH] = "tenant_mismatch",
    [KB_ERR_UNKNOWN_ORDER] = "unknown_order",
    [KB_ERR_UNKNOWN_STATUS] = "unknown_status",
    [KB_ERR_ILLEGAL_TRANSITION] = "illegal_transition",
    [KB_ERR_ORDER_CLOSED] = "order_closed",
    [KB_ERR_UNKNOWN_ACTION] = "unknown_action",
    [KB_ERR_JOURNAL_UNAVAILABLE] = "journal_unavailable",
    [KB_ERR_ORDER_NUMBER_IN_USE] = "order_number_in_use",
    [KB_ERR_WRONG_STATION] = "wrong_station",
    [KB_ERR_UNKNOWN_STATION] = "unknown_station",
};

const char *kb_error_code(kb_error e)
{
    if (e < 0 || e >= KB_ERR__COUNT) return "internal";
    return error_codes[e];
}
