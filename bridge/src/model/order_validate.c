/* order_validate.c - see order_validate.h. */
#include "order_validate.h"

#include "charset.h"
#include "json_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 3, 4)))
static kb_error reject(order_rejection *rej, kb_error e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rej->detail, sizeof rej->detail, fmt, ap);
    va_end(ap);
    rej->error = e;
    return e;
}

int order_number_valid(const char *s)
{
    return charset_is(s, ORDER_NUMBER_MAX, CHARSET_LOWER | CHARSET_UPPER | CHARSET_DIGITS, "._-");
}

/* A JSON number that is a whole number in [lo, hi]. */
static int is_int_in(const cJSON *v, double lo, double hi)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    return d >= lo && d <= hi && floor(d) == d;
}

int order_number_text(const cJSON *v, char out[ORDER_NUMBER_MAX + 1])
{
    out[0] = '\0';
    if (is_int_in(v, 0, 1e15)) snprintf(out, ORDER_NUMBER_MAX + 1, "%.0f", v->valuedouble);
    else if (cJSON_IsString(v) && order_number_valid(v->valuestring))
        memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    else return -1;
    return 0;
}

const char *order_tenant_text(const cJSON *v, char num[32])
{
    if (cJSON_IsString(v)) return v->valuestring;
    if (!is_int_in(v, -1e15, 1e15)) return NULL;
    snprintf(num, 32, "%.0f", v->valuedouble);
    return num;
}

/* Reads order_number: a valid string, or a non-negative whole number that a
 * POS may send (turned into its decimal string). */
static kb_error read_order_number(const cJSON *doc, order_rejection *rej, char *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "order_number");
    if (!v) return reject(rej, KB_ERR_MISSING_FIELD, "order_number is required");
    if (order_number_text(v, out) != 0)
        return cJSON_IsString(v) ? reject(rej, KB_ERR_INVALID_FIELD,
                                          "order_number must be 1-%d characters of A-Z a-z 0-9 . _ -",
                                          ORDER_NUMBER_MAX)
                                 : reject(rej, KB_ERR_INVALID_FIELD, "order_number must be a string");
    memcpy(rej->order_number, out, strlen(out) + 1);
    return KB_OK;
}

/* Optional text field: absent, or a string of at most ORDER_TEXT_MAX bytes
 * (numbers allowed where `numbers_ok`, e.g. a table number). */
static kb_error check_text(const cJSON *obj, const char *field, int numbers_ok,
                           const char *where, order_rejection *rej)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!v || cJSON_IsNull(v)) return KB_OK;
    if (numbers_ok && cJSON_IsNumber(v)) return KB_OK;
    if (!cJSON_IsString(v))
        return reject(rej, KB_ERR_INVALID_FIELD, "%s%s must be a string", where, field);
    if (strlen(v->valuestring) > ORDER_TEXT_MAX)
        return reject(rej, KB_ERR_INVALID_FIELD, "%s%s is longer than %d bytes", where, field,
                      ORDER_TEXT_MAX);
    return KB_OK;
}

static kb_error check_item(const cJSON *item, int i, order_rejection *rej)
{
    char where[32];
    snprintf(where, sizeof where, "items[%d].", i);
    if (!cJSON_IsObject(item)) return reject(rej, KB_ERR_INVALID_FIELD, "items[%d] must be an object", i);

    const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
    if (!name) name = cJSON_GetObjectItemCaseSensitive(item, "product_name");
    if (!name) return reject(rej, KB_ERR_MISSING_FIELD, "%sname or product_name is required", where);
    if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
        return reject(rej, KB_ERR_INVALID_FIELD, "%sname must be a non-empty string", where);
    if (strlen(name->valuestring) > ORDER_TEXT_MAX)
        return reject(rej, KB_ERR_INVALID_FIELD, "%sname is too long", where);

    const cJSON *qty = cJSON_GetObjectItemCaseSensitive(item, "qty");
    if (!qty) qty = cJSON_GetObjectItemCaseSensitive(item, "quantity");
    if (!qty) return reject(rej, KB_ERR_MISSING_FIELD, "%sqty or quantity is required", where);
    if (!is_int_in(qty, 1, 9999))
        return reject(rej, KB_ERR_INVALID_FIELD, "%sqty must be a whole number from 1 to 9999", where);

    kb_error e;
    if ((e = check_text(item, "notes", 0, where, rej)) != KB_OK) return e;
    if ((e = check_text(item, "station", 0, where, rej)) != KB_OK) return e;
    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(item, "modifiers");
    if (mods && !cJSON_IsNull(mods) && !cJSON_IsArray(mods))
        return reject(rej, KB_ERR_INVALID_FIELD, "%smodifiers must be an array", where);
    return KB_OK;
}

/* tenant_id must name the topic's tenant; a number is turned into its string. */
static kb_error normalise_tenant(cJSON *doc, const char *tenant, order_rejection *rej)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "tenant_id");
    if (!v) return reject(rej, KB_ERR_MISSING_FIELD, "tenant_id is required");
    char num[32];
    const char *given = order_tenant_text(v, num);
    if (!given) return reject(rej, KB_ERR_INVALID_FIELD, "tenant_id must be a string or a number");
    if (strcmp(given, tenant) != 0)
        return reject(rej, KB_ERR_TENANT_MISMATCH, "tenant_id does not match this device's tenant");
    if (cJSON_IsNumber(v)) {
        cJSON *s = cJSON_CreateString(given);
        if (!s || !cJSON_ReplaceItemInObjectCaseSensitive(doc, "tenant_id", s)) {
            cJSON_Delete(s);
            return reject(rej, KB_ERR_INVALID_FIELD, "out of memory");
        }
    }
    return KB_OK;
}

static kb_error check_new_order(cJSON *doc, const char *tenant, order_rejection *rej)
{
    kb_error e = normalise_tenant(doc, tenant, rej);
    if (e != KB_OK) return e;

    const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
    if (!items) return reject(rej, KB_ERR_MISSING_FIELD, "items is required");
    if (!cJSON_IsArray(items)) return reject(rej, KB_ERR_INVALID_FIELD, "items must be an array");
    int n = cJSON_GetArraySize(items);
    if (n < 1 || n > ORDER_MAX_ITEMS)
        return reject(rej, KB_ERR_INVALID_FIELD, "items must hold 1 to %d entries", ORDER_MAX_ITEMS);
    int i = 0;
    for (const cJSON *it = items->child; it; it = it->next, i++)
        if ((e = check_item(it, i, rej)) != KB_OK) return e;

    static const char *const texts[] = {"tenant_name", "customer_name", "order_type", "notes",
                                        "created_at", "pickup_name"};
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++)
        if ((e = check_text(doc, texts[k], 0, "", rej)) != KB_OK) return e;
    /* The name a pickup board may show beside the number: a first name. */
    const cJSON *pickup = cJSON_GetObjectItemCaseSensitive(doc, "pickup_name");
    if (cJSON_IsString(pickup) && strlen(pickup->valuestring) > ORDER_PICKUP_NAME_MAX)
        return reject(rej, KB_ERR_INVALID_FIELD, "pickup_name may be at most %d bytes (a first name)",
                      ORDER_PICKUP_NAME_MAX);
    if ((e = check_text(doc, "table", 1, "", rej)) != KB_OK) return e;

    const cJSON *prio = cJSON_GetObjectItemCaseSensitive(doc, "priority");
    if (prio && !cJSON_IsNull(prio) &&
        !(cJSON_IsString(prio) &&
          (strcmp(prio->valuestring, "normal") == 0 || strcmp(prio->valuestring, "rush") == 0)))
        return reject(rej, KB_ERR_INVALID_FIELD, "priority must be \"normal\" or \"rush\"");
    return KB_OK;
}

static kb_error read_status(const cJSON *doc, order_rejection *rej, order_status *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "status");
    if (!v) return reject(rej, KB_ERR_MISSING_FIELD, "status is required");
    if (!cJSON_IsString(v)) return reject(rej, KB_ERR_INVALID_FIELD, "status must be a string");
    *out = order_status_parse(v->valuestring);
    if (*out == ORDER_STATUS_INVALID)
        return reject(rej, KB_ERR_UNKNOWN_STATUS,
                      "unknown status; use new, accepted, preparing, ready, served or cancelled");
    return KB_OK;
}

/* Decides what a parsed object asks for and checks it. Takes `doc`. */
static kb_error parse_doc(cJSON *doc, order_source source, const char *tenant,
                          order_request *req, order_rejection *rej)
{
    kb_error e = read_order_number(doc, rej, req->order_number);
    if (e != KB_OK) return e;

    const cJSON *action = cJSON_GetObjectItemCaseSensitive(doc, "action");
    if (source == ORDER_SOURCE_KITCHEN) {
        if (action && !(cJSON_IsString(action) && strcmp(action->valuestring, "status") == 0))
            return reject(rej, KB_ERR_UNKNOWN_ACTION, "a kitchen may only change status");
        req->kind = ORDER_REQ_STATUS;
        if ((e = read_status(doc, rej, &req->status)) != KB_OK) return e;
        const cJSON *station = cJSON_GetObjectItemCaseSensitive(doc, "station");
        if (!station || cJSON_IsNull(station)) return KB_OK;
        if (!cJSON_IsString(station) || !charset_is(station->valuestring, sizeof req->station - 1,
                                                    CHARSET_LOWER | CHARSET_DIGITS, "_-"))
            return reject(rej, KB_ERR_INVALID_FIELD, "station must be a station id of the tenant");
        if (req->status != ORDER_STATUS_PREPARING && req->status != ORDER_STATUS_READY)
            return reject(rej, KB_ERR_INVALID_FIELD, "a station reports preparing or ready");
        req->kind = ORDER_REQ_STATION;
        snprintf(req->station, sizeof req->station, "%s", station->valuestring);
        return KB_OK;
    }
    if (!action || cJSON_IsNull(action) ||
        (cJSON_IsString(action) && strcmp(action->valuestring, "create") == 0)) {
        if ((e = check_new_order(doc, tenant, rej)) != KB_OK) return e;
        req->kind = ORDER_REQ_CREATE;
        return KB_OK;
    }
    if (!cJSON_IsString(action)) return reject(rej, KB_ERR_INVALID_FIELD, "action must be a string");
    if (strcmp(action->valuestring, "cancel") == 0) {
        req->kind = ORDER_REQ_CANCEL;
        req->status = ORDER_STATUS_CANCELLED;
        return KB_OK;
    }
    if (strcmp(action->valuestring, "status") == 0) {
        req->kind = ORDER_REQ_STATUS;
        return read_status(doc, rej, &req->status);
    }
    return reject(rej, KB_ERR_UNKNOWN_ACTION, "unknown action; use create, cancel or status");
}

kb_error order_request_parse(const char *payload, size_t len, order_source source,
                             const char *tenant, order_request *req, order_rejection *rej)
{
    memset(req, 0, sizeof *req);
    memset(rej, 0, sizeof *rej);
    if (len > ORDER_MAX_BYTES)
        return reject(rej, KB_ERR_PAYLOAD_TOO_LARGE, "payload is %zu bytes; the limit is %d", len,
                      ORDER_MAX_BYTES);
    cJSON *doc = json_parse_exact(payload, len);
    if (!doc) return reject(rej, KB_ERR_MALFORMED_JSON, "payload is not valid JSON");
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return reject(rej, KB_ERR_NOT_AN_OBJECT, "payload must be a JSON object");
    }
    kb_error e = parse_doc(doc, source, tenant, req, rej);
    if (e == KB_OK && req->kind == ORDER_REQ_CREATE) {
        req->order = doc;
    } else {
        cJSON_Delete(doc);
    }
    return e;
}

void order_request_free(order_request *req)
{
    cJSON_Delete(req->order);
    req->order = NULL;
}
