/* legacy_frames.c - see legacy_frames.h. */
#include "legacy_frames.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "json_util.h"

static const char *const error_codes[] = {
    [LEGACY_OK] = "ok",
    [LEGACY_ERR_MALFORMED_JSON] = "malformed_json",
    [LEGACY_ERR_NOT_AN_OBJECT] = "not_an_object",
    [LEGACY_ERR_MISSING_TYPE] = "missing_type",
    [LEGACY_ERR_UNKNOWN_TYPE] = "unknown_type",
    [LEGACY_ERR_FRAME_TOO_LARGE] = "frame_too_large",
    [LEGACY_ERR_BINARY_FRAME] = "binary_frame",
    [LEGACY_ERR_RATE_LIMITED] = "rate_limited",
    [LEGACY_ERR_FORBIDDEN] = "forbidden",
    [LEGACY_ERR_UNKNOWN_ORDER] = "unknown_order",
};

const char *legacy_error_code(legacy_error e)
{
    if ((int)e < 0 || (size_t)e >= sizeof error_codes / sizeof *error_codes) return "internal";
    return error_codes[e];
}

int legacy_client_id_valid(const char *s)
{
    return charset_is(s, LEGACY_CLIENT_ID_MAX, CHARSET_LOWER | CHARSET_UPPER | CHARSET_DIGITS, "._:-");
}

/* The order number as the validator will read it, or "" (the validator then
 * says what is wrong with it). */
static void read_order_number(const cJSON *payload, char *out)
{
    order_number_text(cJSON_GetObjectItemCaseSensitive(payload, "order_number"), out);
}

/* tenant_id as a registry id (a number becomes its string, as the validator
 * does), or "". */
static void read_tenant(const cJSON *payload, char *out)
{
    char num[32];
    const char *id = order_tenant_text(cJSON_GetObjectItemCaseSensitive(payload, "tenant_id"), num);
    out[0] = '\0';
    if (id && registry_id_valid(id)) memcpy(out, id, strlen(id) + 1);
}

/* A status request in the contract's shape: {"order_number", "status"} plus
 * "action":"status" for a POS. Fields are copied as sent, so the order
 * service judges them exactly as it judges an MQTT message. */
static char *status_request(const cJSON *payload, const char *status, int from_pos)
{
    if (!payload) return strdup("null");
    if (!cJSON_IsObject(payload)) return cJSON_PrintUnformatted(payload);
    cJSON *req = cJSON_CreateObject();
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(payload, "order_number");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(payload, "status");
    if (num) cJSON_AddItemToObject(req, "order_number", cJSON_Duplicate(num, 1));
    if (from_pos) cJSON_AddStringToObject(req, "action", "status");
    if (status) cJSON_AddStringToObject(req, "status", status);
    else if (st) cJSON_AddItemToObject(req, "status", cJSON_Duplicate(st, 1));
    char *text = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    return text;
}

legacy_error legacy_frame_parse(const char *text, size_t len, int from_pos, legacy_frame *out,
                                char *detail, size_t detail_len)
{
    memset(out, 0, sizeof *out);
    detail[0] = '\0';
    cJSON *doc = json_parse_exact(text, len);
    if (!doc) {
        snprintf(detail, detail_len, "the frame is not valid JSON");
        return LEGACY_ERR_MALFORMED_JSON;
    }
    legacy_error e = LEGACY_OK;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(doc, "type");
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(doc, "payload");
    if (!cJSON_IsObject(doc)) {
        snprintf(detail, detail_len, "a frame must be a JSON object {\"type\":...,\"payload\":...}");
        e = LEGACY_ERR_NOT_AN_OBJECT;
    } else if (!cJSON_IsString(type)) {
        snprintf(detail, detail_len, "the frame has no \"type\" string");
        e = LEGACY_ERR_MISSING_TYPE;
    } else if (strcmp(type->valuestring, "new_order") == 0) {
        out->type = LEGACY_NEW_ORDER;
        /* A missing payload becomes null, which the order service rejects
         * with a reason like any non-object order. */
        out->request = payload ? cJSON_PrintUnformatted(payload) : strdup("null");
        read_tenant(payload, out->tenant);
    } else if (strcmp(type->valuestring, "order_update") == 0) {
        out->type = LEGACY_ORDER_UPDATE;
        out->request = status_request(payload, NULL, from_pos);
    } else if (strcmp(type->valuestring, "order_ack") == 0 || strcmp(type->valuestring, "ack") == 0) {
        /* A kitchen's receipt moves a new order to accepted (as the web
         * adapter's acknowledgeOrder does); the gateway skips orders that are
         * past "new". */
        out->type = LEGACY_ORDER_ACK;
        out->request = status_request(payload, "accepted", 0);
    } else if (strcmp(type->valuestring, "ping") == 0) {
        out->type = LEGACY_PING;
    } else if (strcmp(type->valuestring, "pong") == 0) {
        out->type = LEGACY_PONG;
    } else {
        snprintf(detail, detail_len, "unknown frame type \"%.40s\"; use new_order, order_update, order_ack or ping",
                 type->valuestring);
        e = LEGACY_ERR_UNKNOWN_TYPE;
    }
    if (e == LEGACY_OK) {
        if (cJSON_IsObject(payload)) read_order_number(payload, out->order_number);
        if (out->type <= LEGACY_ORDER_ACK && !out->request) {
            snprintf(detail, detail_len, "out of memory");
            e = LEGACY_ERR_MALFORMED_JSON;
        }
    }
    cJSON_Delete(doc);
    return e;
}

void legacy_frame_free(legacy_frame *f)
{
    free(f->request);
    f->request = NULL;
}

/* {"type":"<type>","payload":<payload_json>,"timestamp":"<ts>"}: payload_json
 * is valid JSON text (printed by cJSON), so it is pasted, never re-encoded. */
static char *wrap(const char *type, const char *payload_json, const char *timestamp)
{
    size_t n = strlen(type) + (payload_json ? strlen(payload_json) : 0) + strlen(timestamp) + 64;
    char *out = malloc(n);
    if (!out) return NULL;
    if (payload_json)
        snprintf(out, n, "{\"type\":\"%s\",\"payload\":%s,\"timestamp\":\"%s\"}", type, payload_json, timestamp);
    else
        snprintf(out, n, "{\"type\":\"%s\",\"timestamp\":\"%s\"}", type, timestamp);
    return out;
}

/* Prints an object and wraps it; takes `payload`. */
static char *wrap_object(const char *type, cJSON *payload, const char *timestamp)
{
    char *text = payload ? cJSON_PrintUnformatted(payload) : NULL;
    cJSON_Delete(payload);
    char *frame = text ? wrap(type, text, timestamp) : NULL;
    free(text);
    return frame;
}

char *legacy_frame_new_order(const char *order_doc, const char *timestamp)
{
    return wrap("new_order", order_doc, timestamp);
}

char *legacy_frame_status_update(const char *order_doc, const char *timestamp)
{
    cJSON *doc = cJSON_Parse(order_doc);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return NULL;
    }
    static const char *const keep[] = {"order_number", "status", "updated_at", "seq", "tenant_id"};
    cJSON *p = cJSON_CreateObject();
    for (size_t i = 0; p && i < sizeof keep / sizeof *keep; i++) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(doc, keep[i]);
        if (v) cJSON_AddItemToObject(p, keep[i], v);
    }
    cJSON_Delete(doc);
    return wrap_object("order_status_update", p, timestamp);
}

char *legacy_frame_ack(const kb_ack *ack, const char *timestamp)
{
    cJSON *p = kb_ack_json(ack);
    /* Old clients read payload.error; it is null unless rejected. */
    if (p && !cJSON_GetObjectItemCaseSensitive(p, "error")) cJSON_AddNullToObject(p, "error");
    return wrap_object("ack", p, timestamp);
}

char *legacy_frame_error(legacy_error e, const char *detail, const char *timestamp)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "error", legacy_error_code(e));
    if (detail && detail[0]) cJSON_AddStringToObject(p, "detail", detail);
    return wrap_object("error", p, timestamp);
}

char *legacy_frame_connected(const char *client_id, const char *client_type, const char *device,
                             const char *tenant, const char *timestamp)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "clientId", client_id);
    cJSON_AddStringToObject(p, "clientType", client_type);
    if (device && device[0]) cJSON_AddStringToObject(p, "device", device);
    if (tenant && tenant[0]) cJSON_AddStringToObject(p, "tenant", tenant);
    else cJSON_AddNullToObject(p, "tenant");
    return wrap_object("connected", p, timestamp);
}

char *legacy_frame_pong(const char *timestamp) { return wrap("pong", NULL, timestamp); }
