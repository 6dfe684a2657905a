/* legacy_frames_test.c - unit tests for the legacy frame translation
 * (legacy_frames.c): parsing every frame type the old clients send, the
 * requests handed to the order service (which must then accept them), and
 * the frames built for old clients. Exits non-zero on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "legacy_frames.h"
#include "order_validate.h"

#include "check.h"

static legacy_error parse(const char *text, int from_pos, legacy_frame *f)
{
    char detail[160];
    legacy_error e = legacy_frame_parse(text, strlen(text), from_pos, f, detail, sizeof detail);
    CHECK((e == LEGACY_OK) == (detail[0] == '\0'));
    return e;
}

/* The request passes the real validator as `source` for tenant pizza. */
static kb_error validate(const char *request, order_source source, order_request *req)
{
    order_rejection rej;
    return order_request_parse(request, strlen(request), source, "pizza", req, &rej);
}

static void test_new_order_is_passed_whole(void)
{
    legacy_frame f;
    const char *text = "{\"type\":\"new_order\",\"payload\":{\"order_number\":\"OFF-1-T1\",\"tenant_id\":\"pizza\","
                       "\"items\":[{\"product_name\":\"Pie\",\"quantity\":2}],\"weird\":{\"deep\":[1,\"x\",null]},"
                       "\"price\":12.5},\"timestamp\":\"2026-01-01T00:00:00Z\"}";
    CHECK(parse(text, 1, &f) == LEGACY_OK);
    CHECK(f.type == LEGACY_NEW_ORDER);
    CHECK(strcmp(f.order_number, "OFF-1-T1") == 0);
    CHECK(strcmp(f.tenant, "pizza") == 0);
    order_request req;
    CHECK(validate(f.request, ORDER_SOURCE_POS, &req) == KB_OK);
    CHECK(req.kind == ORDER_REQ_CREATE);
    cJSON *weird = cJSON_GetObjectItemCaseSensitive(req.order, "weird");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(weird, "deep")) == 3);
    CHECK(cJSON_GetObjectItemCaseSensitive(req.order, "price")->valuedouble == 12.5);
    CHECK(!cJSON_GetObjectItemCaseSensitive(req.order, "timestamp")); /* the frame's, not the order's */
    order_request_free(&req);
    legacy_frame_free(&f);
    CHECK(f.request == NULL);
}

static void test_numeric_ids_are_read(void)
{
    legacy_frame f;
    CHECK(parse("{\"type\":\"new_order\",\"payload\":{\"order_number\":17,\"tenant_id\":3,\"items\":[]}}", 1, &f) ==
          LEGACY_OK);
    CHECK(strcmp(f.order_number, "17") == 0);
    CHECK(strcmp(f.tenant, "3") == 0);
    legacy_frame_free(&f);
    /* A tenant that can be no registry id is not routed by. */
    CHECK(parse("{\"type\":\"new_order\",\"payload\":{\"order_number\":\"a/b\",\"tenant_id\":\"Pizza/#\"}}", 1, &f) ==
          LEGACY_OK);
    CHECK(f.order_number[0] == '\0' && f.tenant[0] == '\0');
    legacy_frame_free(&f);
}

static void test_new_order_without_payload_is_left_to_the_validator(void)
{
    legacy_frame f;
    CHECK(parse("{\"type\":\"new_order\"}", 1, &f) == LEGACY_OK);
    CHECK(strcmp(f.request, "null") == 0);
    order_request req;
    CHECK(validate(f.request, ORDER_SOURCE_POS, &req) == KB_ERR_NOT_AN_OBJECT);
    legacy_frame_free(&f);
    CHECK(parse("{\"type\":\"new_order\",\"payload\":[1,2]}", 1, &f) == LEGACY_OK);
    CHECK(validate(f.request, ORDER_SOURCE_POS, &req) == KB_ERR_NOT_AN_OBJECT);
    legacy_frame_free(&f);
}

static void test_order_update_from_pos_and_kitchen(void)
{
    legacy_frame f;
    const char *text = "{\"type\":\"order_update\",\"payload\":{\"order_number\":\"A-1\",\"status\":\"ready\","
                       "\"updated_at\":\"2026-01-01T00:00:00Z\"}}";
    order_request req;
    CHECK(parse(text, 1, &f) == LEGACY_OK);
    CHECK(f.type == LEGACY_ORDER_UPDATE);
    CHECK(strcmp(f.order_number, "A-1") == 0);
    CHECK(validate(f.request, ORDER_SOURCE_POS, &req) == KB_OK);
    CHECK(req.kind == ORDER_REQ_STATUS && req.status == ORDER_STATUS_READY);
    order_request_free(&req);
    legacy_frame_free(&f);

    CHECK(parse(text, 0, &f) == LEGACY_OK);
    CHECK(strstr(f.request, "action") == NULL); /* a kitchen may not send an action */
    CHECK(validate(f.request, ORDER_SOURCE_KITCHEN, &req) == KB_OK);
    CHECK(req.kind == ORDER_REQ_STATUS && req.status == ORDER_STATUS_READY);
    legacy_frame_free(&f);

    /* A bad status is the validator's to reject, with its usual reason. */
    CHECK(parse("{\"type\":\"order_update\",\"payload\":{\"order_number\":\"A-1\",\"status\":\"eaten\"}}", 0, &f) ==
          LEGACY_OK);
    CHECK(validate(f.request, ORDER_SOURCE_KITCHEN, &req) == KB_ERR_UNKNOWN_STATUS);
    legacy_frame_free(&f);
    CHECK(parse("{\"type\":\"order_update\",\"payload\":{\"status\":\"ready\"}}", 0, &f) == LEGACY_OK);
    CHECK(validate(f.request, ORDER_SOURCE_KITCHEN, &req) == KB_ERR_MISSING_FIELD);
    legacy_frame_free(&f);
    CHECK(parse("{\"type\":\"order_update\",\"payload\":\"A-1\"}", 0, &f) == LEGACY_OK);
    CHECK(validate(f.request, ORDER_SOURCE_KITCHEN, &req) == KB_ERR_NOT_AN_OBJECT);
    legacy_frame_free(&f);
}

static void test_order_ack_means_accepted(void)
{
    const char *texts[] = {"{\"type\":\"order_ack\",\"payload\":{\"order_number\":\"A-2\"}}",
                           "{\"type\":\"ack\",\"payload\":{\"order_number\":\"A-2\"}}"};
    for (int i = 0; i < 2; i++) {
        legacy_frame f;
        order_request req;
        CHECK(parse(texts[i], 0, &f) == LEGACY_OK);
        CHECK(f.type == LEGACY_ORDER_ACK);
        CHECK(strcmp(f.order_number, "A-2") == 0);
        CHECK(validate(f.request, ORDER_SOURCE_KITCHEN, &req) == KB_OK);
        CHECK(req.status == ORDER_STATUS_ACCEPTED);
        legacy_frame_free(&f);
    }
}

static void test_ping_and_bad_frames(void)
{
    legacy_frame f;
    CHECK(parse("{\"type\":\"ping\"}", 1, &f) == LEGACY_OK && f.type == LEGACY_PING && !f.request);
    CHECK(parse(" {\"type\":\"pong\"} \n", 1, &f) == LEGACY_OK && f.type == LEGACY_PONG);
    CHECK(parse("{\"type\":\"ping\"", 1, &f) == LEGACY_ERR_MALFORMED_JSON);
    CHECK(parse("{\"type\":\"ping\"} x", 1, &f) == LEGACY_ERR_MALFORMED_JSON);
    CHECK(parse("", 1, &f) == LEGACY_ERR_MALFORMED_JSON);
    CHECK(parse("[\"ping\"]", 1, &f) == LEGACY_ERR_NOT_AN_OBJECT);
    CHECK(parse("\"ping\"", 1, &f) == LEGACY_ERR_NOT_AN_OBJECT);
    CHECK(parse("{\"payload\":{}}", 1, &f) == LEGACY_ERR_MISSING_TYPE);
    CHECK(parse("{\"type\":7}", 1, &f) == LEGACY_ERR_MISSING_TYPE);
    CHECK(parse("{\"type\":\"drop_tables\"}", 1, &f) == LEGACY_ERR_UNKNOWN_TYPE);
    /* An embedded NUL is not JSON. */
    CHECK(legacy_frame_parse("{\"type\":\"ping\"}\0", 16, 1, &f, (char[8]){0}, 8) == LEGACY_ERR_MALFORMED_JSON);
    CHECK(strcmp(legacy_error_code(LEGACY_ERR_UNKNOWN_TYPE), "unknown_type") == 0);
    CHECK(strcmp(legacy_error_code(LEGACY_ERR_RATE_LIMITED), "rate_limited") == 0);
    CHECK(strcmp(legacy_error_code((legacy_error)99), "internal") == 0);
}

static void test_outgoing_frames(void)
{
    const char *doc = "{\"order_number\":\"A-3\",\"tenant_id\":\"pizza\",\"x\":{\"y\":[1]},\"status\":\"ready\","
                      "\"seq\":9,\"updated_at\":\"2026-01-01T00:00:01.000Z\",\"items\":[]}";
    char *f = legacy_frame_new_order(doc, "T");
    cJSON *j = cJSON_Parse(f);
    CHECK(strcmp(cJSON_GetObjectItem(j, "type")->valuestring, "new_order") == 0);
    char *payload = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "payload"));
    CHECK(strcmp(payload, doc) == 0); /* byte for byte */
    CHECK(strcmp(cJSON_GetObjectItem(j, "timestamp")->valuestring, "T") == 0);
    free(payload);
    cJSON_Delete(j);
    free(f);

    f = legacy_frame_status_update(doc, "T");
    j = cJSON_Parse(f);
    cJSON *p = cJSON_GetObjectItem(j, "payload");
    CHECK(strcmp(cJSON_GetObjectItem(j, "type")->valuestring, "order_status_update") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(p, "order_number")->valuestring, "A-3") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(p, "status")->valuestring, "ready") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(p, "updated_at")->valuestring, "2026-01-01T00:00:01.000Z") == 0);
    CHECK(cJSON_GetObjectItem(p, "seq")->valuedouble == 9);
    CHECK(!cJSON_GetObjectItem(p, "x") && !cJSON_GetObjectItem(p, "items"));
    cJSON_Delete(j);
    free(f);
    CHECK(legacy_frame_status_update("not json", "T") == NULL);

    kb_ack ack = {.result = KB_ACK_ACCEPTED, .order_number = "A-3", .seq = 4, .status = ORDER_STATUS_NEW};
    f = legacy_frame_ack(&ack, "T");
    j = cJSON_Parse(f);
    p = cJSON_GetObjectItem(j, "payload");
    CHECK(strcmp(cJSON_GetObjectItem(j, "type")->valuestring, "ack") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(p, "result")->valuestring, "accepted") == 0);
    CHECK(cJSON_GetObjectItem(p, "seq")->valuedouble == 4);
    CHECK(strcmp(cJSON_GetObjectItem(p, "status")->valuestring, "new") == 0);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(p, "error")));
    cJSON_Delete(j);
    free(f);
    kb_ack no = {.result = KB_ACK_REJECTED, .order_number = "", .error = KB_ERR_ILLEGAL_TRANSITION, .detail = "d"};
    f = legacy_frame_ack(&no, "T");
    CHECK(strstr(f, "\"error\":\"illegal_transition\"") != NULL);
    CHECK(strstr(f, "\"order_number\":null") != NULL);
    CHECK(strstr(f, "\"result\":\"rejected\"") != NULL);
    free(f);

    f = legacy_frame_error(LEGACY_ERR_FRAME_TOO_LARGE, "a \"quoted\" detail", "T");
    j = cJSON_Parse(f);
    p = cJSON_GetObjectItem(j, "payload");
    CHECK(strcmp(cJSON_GetObjectItem(p, "error")->valuestring, "frame_too_large") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(p, "detail")->valuestring, "a \"quoted\" detail") == 0);
    cJSON_Delete(j);
    free(f);

    f = legacy_frame_connected("KITCHEN-1", "kitchen", "pizza-kitchen", "pizza", "T");
    j = cJSON_Parse(f);
    p = cJSON_GetObjectItem(j, "payload");
    CHECK(strcmp(cJSON_GetObjectItem(j, "type")->valuestring, "connected") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(p, "clientId")->valuestring, "KITCHEN-1") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(p, "clientType")->valuestring, "kitchen") == 0);
    cJSON_Delete(j);
    free(f);
    f = legacy_frame_connected("K", "kitchen", NULL, "", "T");
    CHECK(strstr(f, "\"tenant\":null") != NULL && !strstr(f, "device"));
    free(f);

    f = legacy_frame_pong("T");
    CHECK(strcmp(f, "{\"type\":\"pong\",\"timestamp\":\"T\"}") == 0);
    free(f);
}

static void test_client_ids(void)
{
    CHECK(legacy_client_id_valid("KITCHEN-1735891234567-k2j3h4g5f"));
    CHECK(legacy_client_id_valid("pos:1.a_b"));
    CHECK(!legacy_client_id_valid(""));
    CHECK(!legacy_client_id_valid("a b"));
    CHECK(!legacy_client_id_valid("<script>"));
    char long_id[80];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    CHECK(!legacy_client_id_valid(long_id));
    long_id[LEGACY_CLIENT_ID_MAX] = '\0';
    CHECK(legacy_client_id_valid(long_id));
}

int main(void)
{
    test_new_order_is_passed_whole();
    test_numeric_ids_are_read();
    test_new_order_without_payload_is_left_to_the_validator();
    test_order_update_from_pos_and_kitchen();
    test_order_ack_means_accepted();
    test_ping_and_bad_frames();
    test_outgoing_frames();
    test_client_ids();
    return check_report();
}
