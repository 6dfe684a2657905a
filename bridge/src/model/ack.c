/* ack.c - see ack.h. */
#include "ack.h"

cJSON *kb_ack_json(const kb_ack *a)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    if (a->order_number && a->order_number[0]) cJSON_AddStringToObject(j, "order_number", a->order_number);
    else cJSON_AddNullToObject(j, "order_number");
    if (a->result == KB_ACK_REJECTED) {
        cJSON_AddStringToObject(j, "result", "rejected");
        cJSON_AddStringToObject(j, "error", kb_error_code(a->error));
        cJSON_AddStringToObject(j, "detail", a->detail ? a->detail : "");
    } else {
        cJSON_AddStringToObject(j, "result", a->result == KB_ACK_DUPLICATE ? "duplicate" : "accepted");
        cJSON_AddNumberToObject(j, "seq", (double)a->seq);
        cJSON_AddStringToObject(j, "status", order_status_name(a->status));
    }
    return j;
}
