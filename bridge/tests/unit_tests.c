/* unit_tests.c - unit tests for the bridge's pure logic: the order
 * validator, the status state machine, the registry parser, topics, order
 * fingerprints, durations and the ack queue.
 * Each CHECK reports its line; the program exits non-zero on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ack_queue.h"
#include "charset.h"
#include "duration.h"
#include "order_fingerprint.h"
#include "order_status.h"
#include "order_validate.h"
#include "registry.h"
#include "text_buf.h"
#include "topics.h"

#include "check.h"

static kb_error parse(const char *json, order_source src, order_request *req, order_rejection *rej)
{
    return order_request_parse(json, strlen(json), src, "pizza", req, rej);
}

static kb_error parse_code(const char *json, order_source src)
{
    order_request req;
    order_rejection rej;
    kb_error e = parse(json, src, &req, &rej);
    order_request_free(&req);
    return e;
}

static void test_valid_order_is_kept_whole(void)
{
    order_request req;
    order_rejection rej;
    const char *json = "{\"order_number\":\"A-1.x_2\",\"tenant_id\":\"pizza\",\"items\":[{\"product_name\":\"Pie\","
                       "\"quantity\":3,\"modifiers\":[\"hot\"],\"station\":\"oven\"}],\"table\":12,"
                       "\"priority\":\"rush\",\"secret_sauce\":{\"x\":[1,2]}}";
    CHECK(parse(json, ORDER_SOURCE_POS, &req, &rej) == KB_OK);
    CHECK(req.kind == ORDER_REQ_CREATE);
    CHECK(strcmp(req.order_number, "A-1.x_2") == 0);
    CHECK(req.order != NULL);
    const cJSON *unknown = cJSON_GetObjectItemCaseSensitive(req.order, "secret_sauce");
    CHECK(cJSON_IsObject(unknown) && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(unknown, "x")) == 2);
    order_request_free(&req);
    CHECK(req.order == NULL);
}

static void test_numeric_tenant_is_normalised(void)
{
    order_request req;
    order_rejection rej;
    const char *json = "{\"order_number\":7,\"tenant_id\":42,\"items\":[{\"name\":\"a\",\"qty\":1}]}";
    CHECK(order_request_parse(json, strlen(json), ORDER_SOURCE_POS, "42", &req, &rej) == KB_OK);
    CHECK(strcmp(req.order_number, "7") == 0);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(req.order, "tenant_id");
    CHECK(cJSON_IsString(t) && strcmp(t->valuestring, "42") == 0);
    order_request_free(&req);
}

static void test_rejections(void)
{
    static const struct {
        const char *json;
        kb_error want;
    } cases[] = {
        {"{", KB_ERR_MALFORMED_JSON},
        {"{} {}", KB_ERR_MALFORMED_JSON},
        {"", KB_ERR_MALFORMED_JSON},
        {"[]", KB_ERR_NOT_AN_OBJECT},
        {"null", KB_ERR_NOT_AN_OBJECT},
        {"{\"tenant_id\":\"pizza\"}", KB_ERR_MISSING_FIELD},
        {"{\"order_number\":\"\",\"tenant_id\":\"pizza\"}", KB_ERR_INVALID_FIELD},
        {"{\"order_number\":\"a b\",\"tenant_id\":\"pizza\"}", KB_ERR_INVALID_FIELD},
        {"{\"order_number\":\"a/#\",\"tenant_id\":\"pizza\"}", KB_ERR_INVALID_FIELD},
        {"{\"order_number\":true}", KB_ERR_INVALID_FIELD},
        {"{\"order_number\":-1}", KB_ERR_INVALID_FIELD},
        {"{\"order_number\":\"A\"}", KB_ERR_MISSING_FIELD},
        {"{\"order_number\":\"A\",\"tenant_id\":\"burger\",\"items\":[{\"name\":\"a\",\"qty\":1}]}", KB_ERR_TENANT_MISMATCH},
        {"{\"order_number\":\"A\",\"tenant_id\":[],\"items\":[]}", KB_ERR_INVALID_FIELD},
        {"{\"order_number\":\"A\",\"tenant_id\":\"pizza\",\"items\":{}}", KB_ERR_INVALID_FIELD},
        {"{\"order_number\":\"A\",\"tenant_id\":\"pizza\",\"items\":[]}", KB_ERR_INVALID_FIELD},
        {"{\"order_number\":\"A\",\"tenant_id\":\"pizza\",\"items\":[1]}", KB_ERR_INVALID_FIELD},
        {"{\"order_number\":\"A\",\"tenant_id\":\"pizza\",\"items\":[{\"qty\":1}]}", KB_ERR_MISSING_FIELD},
        {"{\"order_number\":\"A\",\"tenant_id\":\"pizza\",\"items\":[{\"name\":\"a\"}]}", KB_ERR_MISSING_FIELD},
        {"{\"order_number\":\"A\",\"tenant_id\":\"pizza\",\"items\":[{\"name\":\"a\",\"qty\":10000}]}", KB_ERR_INVALID_FIELD},
        {"{\"order_number\":\"A\",\"tenant_id\":\"pizza\",\"items\":[{\"name\":\"a\",\"qty\":1,\"modifiers\":\"x\"}]}", KB_ERR_INVALID_FIELD},
        {"{\"order_number\":\"A\",\"tenant_id\":\"pizza\",\"items\":[{\"name\":\"a\",\"qty\":1}],\"notes\":5}", KB_ERR_INVALID_FIELD},
        {"{\"order_number\":\"A\",\"tenant_id\":\"pizza\",\"items\":[{\"name\":\"a\",\"qty\":1}],\"priority\":\"now\"}", KB_ERR_INVALID_FIELD},
        {"{\"order_number\":\"A\",\"action\":\"refund\"}", KB_ERR_UNKNOWN_ACTION},
        {"{\"order_number\":\"A\",\"action\":\"status\"}", KB_ERR_MISSING_FIELD},
        {"{\"order_number\":\"A\",\"action\":\"status\",\"status\":\"cooking\"}", KB_ERR_UNKNOWN_STATUS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        kb_error got = parse_code(cases[i].json, ORDER_SOURCE_POS);
        if (got != cases[i].want)
            fprintf(stderr, "case %zu (%s): got %s, want %s\n", i, cases[i].json, kb_error_code(got),
                    kb_error_code(cases[i].want));
        CHECK(got == cases[i].want);
    }
    char big[ORDER_MAX_BYTES + 2];
    memset(big, ' ', sizeof big);
    order_request req;
    order_rejection rej;
    CHECK(order_request_parse(big, sizeof big, ORDER_SOURCE_POS, "pizza", &req, &rej) == KB_ERR_PAYLOAD_TOO_LARGE);
    CHECK(strstr(rej.detail, "limit") != NULL);
}

static void test_kitchen_requests(void)
{
    order_request req;
    order_rejection rej;
    CHECK(parse("{\"order_number\":\"A\",\"status\":\"ready\"}", ORDER_SOURCE_KITCHEN, &req, &rej) == KB_OK);
    CHECK(req.kind == ORDER_REQ_STATUS && req.status == ORDER_STATUS_READY && req.order == NULL);
    /* A kitchen cannot create orders, even by sending one. */
    CHECK(parse_code("{\"order_number\":\"A\",\"tenant_id\":\"pizza\",\"items\":[{\"name\":\"a\",\"qty\":1}]}",
                     ORDER_SOURCE_KITCHEN) == KB_ERR_MISSING_FIELD);
    CHECK(parse_code("{\"order_number\":\"A\",\"action\":\"cancel\"}", ORDER_SOURCE_KITCHEN) == KB_ERR_UNKNOWN_ACTION);
    CHECK(parse("{\"order_number\":\"A\",\"action\":\"cancel\"}", ORDER_SOURCE_POS, &req, &rej) == KB_OK);
    CHECK(req.kind == ORDER_REQ_CANCEL && req.status == ORDER_STATUS_CANCELLED);
}

static void test_state_machine(void)
{
    const order_status N = ORDER_STATUS_NEW, A = ORDER_STATUS_ACCEPTED, P = ORDER_STATUS_PREPARING,
                       R = ORDER_STATUS_READY, S = ORDER_STATUS_SERVED, C = ORDER_STATUS_CANCELLED;
    /* allowed[from][to], in enum order new..cancelled */
    static const int allowed[6][6] = {
        /*        N  A  P  R  S  C */
        /* N */ {0, 1, 0, 0, 0, 1},
        /* A */ {0, 0, 1, 0, 0, 1},
        /* P */ {0, 0, 0, 1, 0, 1},
        /* R */ {0, 0, 1, 0, 1, 1},
        /* S */ {0, 0, 0, 0, 0, 0},
        /* C */ {0, 0, 0, 0, 0, 0},
    };
    for (int f = (int)N; f <= (int)C; f++)
        for (int t = (int)N; t <= (int)C; t++) {
            int got = order_status_can_move((order_status)f, (order_status)t);
            if (got != allowed[f - (int)N][t - (int)N])
                fprintf(stderr, "transition %s -> %s: got %d\n", order_status_name(f), order_status_name(t), got);
            CHECK(got == allowed[f - (int)N][t - (int)N]);
        }
    CHECK(order_status_parse("preparing") == P);
    CHECK(order_status_parse("Preparing") == ORDER_STATUS_INVALID);
    CHECK(order_status_parse(NULL) == ORDER_STATUS_INVALID);
    CHECK(strcmp(order_status_name(S), "served") == 0);
    CHECK(order_status_is_open(R) && !order_status_is_open(S) && !order_status_is_open(C));
    CHECK(!order_status_can_move(ORDER_STATUS_INVALID, A));
    (void)A;
}

static registry *registry_from(const char *json, char *err, size_t errlen)
{
    registry *r = NULL;
    if (registry_parse(json, strlen(json), &r, err, errlen) != 0) return NULL;
    return r;
}

static void test_registry(void)
{
    char err[256];
    registry *r = registry_from(
        "{\"outlet\":{\"id\":\"demo\",\"name\":\"Demo\"},\"demo\":true,\"legacy\":{\"mode\":\"open\"},"
        "\"tenants\":[{\"id\":\"pizza\",\"name\":\"Pizza\",\"devices\":[{\"username\":\"p-pos\",\"role\":\"pos\"},"
        "{\"username\":\"p-k\",\"role\":\"kitchen\"}]}],\"admins\":[{\"username\":\"admin\"}]}",
        err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        CHECK(r->demo && r->legacy_open && r->n_tenants == 1 && r->n_devices == 3);
        const registry_device *d = registry_find_device(r, "p-k");
        CHECK(d && d->role == DEVICE_KITCHEN && d->tenant == 0);
        CHECK(registry_find_device(r, "admin")->tenant == -1);
        CHECK(registry_find_tenant(r, "pizza") && !registry_find_tenant(r, "burger"));
        registry_free(r);
    }
    static const char *const bad[] = {
        "[]",
        "{\"tenants\":[]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[{\"id\":\"a/b\"}]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[{\"id\":\"a+\"}]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[{\"id\":\"#\"}]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[{\"id\":\"$sys\"}]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[{\"id\":\"Pizza\"}]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[{\"id\":\"a\\u0001\"}]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[{\"id\":\"a\"},{\"id\":\"a\"}]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[{\"id\":\"a\",\"name\":\"x\\u0007\"}]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[{\"id\":\"a\",\"devices\":[{\"username\":\"u\",\"role\":\"chef\"}]}]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[{\"id\":\"a\",\"devices\":[{\"username\":\"u/+\",\"role\":\"pos\"}]}]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[{\"id\":\"a\",\"devices\":[{\"username\":\"u\",\"role\":\"pos\"},{\"username\":\"u\",\"role\":\"kitchen\"}]}]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[{\"id\":\"a\",\"devices\":[{\"username\":\"kb-bridge\",\"role\":\"pos\"}]}]}",
        "{\"outlet\":{\"id\":\"d\"},\"tenants\":[],\"admins\":[{\"username\":\"ad min\"}]}",
        "{\"outlet\":{\"id\":\"d\"},\"legacy\":{\"mode\":\"wide-open\"},\"tenants\":[]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        registry *x = registry_from(bad[i], err, sizeof err);
        if (x) fprintf(stderr, "registry case %zu accepted: %s\n", i, bad[i]);
        CHECK(x == NULL && err[0] != '\0');
        registry_free(x);
    }
}

static void test_topics(void)
{
    topic_info t;
    CHECK(topic_parse("outlet/tenant/pizza/pos/pizza-pos/submit", &t) == TOPIC_POS_SUBMIT);
    CHECK(strcmp(t.tenant, "pizza") == 0 && strcmp(t.device, "pizza-pos") == 0);
    CHECK(topic_parse("outlet/tenant/pizza/kitchen/k1/status", &t) == TOPIC_KITCHEN_STATUS);
    CHECK(topic_parse("outlet/tenant/pizza/orders/A-1", &t) == TOPIC_ORDER_STATE);
    CHECK(strcmp(t.order_number, "A-1") == 0);
    CHECK(topic_parse("$CONTROL/dynamic-security/v1/response", &t) == TOPIC_DYNSEC_REPLY);
    CHECK(topic_parse("outlet/tenant/pizza/pos/pizza-pos/submit/extra", &t) == TOPIC_OTHER);
    CHECK(topic_parse("outlet/tenant/Pizza/pos/p/submit", &t) == TOPIC_OTHER);
    CHECK(topic_parse("outlet/tenant/pizza/pos/p/ack", &t) == TOPIC_OTHER);
    CHECK(topic_parse("outlet/tenant/pizza/orders/a b", &t) == TOPIC_OTHER);
    CHECK(topic_parse("outlet/tenant//orders/A", &t) == TOPIC_OTHER);
    CHECK(topic_parse("", &t) == TOPIC_OTHER);
    char buf[TOPIC_MAX];
    CHECK(topic_ack(buf, sizeof buf, "pizza", DEVICE_KITCHEN, "k1") == 0 &&
          strcmp(buf, "outlet/tenant/pizza/kitchen/k1/ack") == 0);
    CHECK(topic_order(buf, 10, "pizza", "A-1") == -1);
    /* What a device sends on must parse back as that device's topic. */
    CHECK(topic_device_in(buf, sizeof buf, "pizza", DEVICE_POS, "pizza-pos") == 0 &&
          topic_parse(buf, &t) == TOPIC_POS_SUBMIT && strcmp(t.device, "pizza-pos") == 0);
    CHECK(topic_device_in(buf, sizeof buf, "pizza", DEVICE_KITCHEN, "k1") == 0 &&
          topic_parse(buf, &t) == TOPIC_KITCHEN_STATUS);
    CHECK(topic_uplink_replay(buf, sizeof buf, "pizza") == 0 && strcmp(buf, "outlet/uplink/replay/pizza") == 0);
}

static int fingerprint_of(const char *json, char out[ORDER_FINGERPRINT_HEX + 1])
{
    cJSON *v = cJSON_Parse(json);
    int rc = v ? order_fingerprint(v, out) : -1;
    cJSON_Delete(v);
    return rc;
}

static void test_fingerprint(void)
{
    char a[ORDER_FINGERPRINT_HEX + 1], b[ORDER_FINGERPRINT_HEX + 1];
    const char *order = "{\"order_number\":\"17\",\"created_at\":\"2026-12-01T09:00:00Z\","
                        "\"items\":[{\"name\":\"Pie\",\"qty\":2,\"x\":{\"b\":1,\"a\":[true,null]}}]}";
    CHECK(fingerprint_of(order, a) == 0 && strlen(a) == ORDER_FINGERPRINT_HEX);
    /* Key order and spacing do not count, at any depth. */
    CHECK(fingerprint_of("{ \"items\" : [ {\"x\":{\"a\":[true, null],\"b\":1},\"qty\":2,\"name\":\"Pie\"} ],"
                         "\"created_at\":\"2026-12-01T09:00:00Z\", \"order_number\":\"17\"}", b) == 0);
    CHECK(strcmp(a, b) == 0);
    /* The bridge's own fields at the top level do not count ... */
    CHECK(fingerprint_of("{\"order_number\":\"17\",\"created_at\":\"2026-12-01T09:00:00Z\",\"status\":\"served\","
                         "\"seq\":9,\"created_seq\":3,\"received_at\":\"x\",\"updated_at\":\"y\","
                         "\"items\":[{\"name\":\"Pie\",\"qty\":2,\"x\":{\"b\":1,\"a\":[true,null]}}]}", b) == 0);
    CHECK(strcmp(a, b) == 0);
    /* ... but everything the POS sent does: tomorrow's created_at, a value, an
     * unknown field, array order, a nested "status". */
    static const char *const other[] = {
        "{\"order_number\":\"17\",\"created_at\":\"2026-12-02T09:00:00Z\","
        "\"items\":[{\"name\":\"Pie\",\"qty\":2,\"x\":{\"b\":1,\"a\":[true,null]}}]}",
        "{\"order_number\":\"17\",\"created_at\":\"2026-12-01T09:00:00Z\","
        "\"items\":[{\"name\":\"Pie\",\"qty\":3,\"x\":{\"b\":1,\"a\":[true,null]}}]}",
        "{\"order_number\":\"17\",\"created_at\":\"2026-12-01T09:00:00Z\",\"note\":\"\","
        "\"items\":[{\"name\":\"Pie\",\"qty\":2,\"x\":{\"b\":1,\"a\":[true,null]}}]}",
        "{\"order_number\":\"17\",\"created_at\":\"2026-12-01T09:00:00Z\","
        "\"items\":[{\"name\":\"Pie\",\"qty\":2,\"x\":{\"b\":1,\"a\":[null,true]}}]}",
        "{\"order_number\":\"17\",\"created_at\":\"2026-12-01T09:00:00Z\","
        "\"items\":[{\"name\":\"Pie\",\"qty\":2,\"status\":\"x\",\"x\":{\"b\":1,\"a\":[true,null]}}]}",
        "{\"order_number\":\"17\",\"created_at\":\"2026-12-01T09:00:00Z\","
        "\"items\":[{\"name\":\"Pie\",\"qty\":\"2\",\"x\":{\"b\":1,\"a\":[true,null]}}]}",
    };
    for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
        CHECK(fingerprint_of(other[i], b) == 0);
        CHECK(strcmp(a, b) != 0);
    }
    /* A key and a value cannot trade places: {"a":"b"} is not {"b":"a"}. */
    CHECK(fingerprint_of("{\"a\":\"b\"}", a) == 0 && fingerprint_of("{\"b\":\"a\"}", b) == 0 && strcmp(a, b) != 0);
    /* The SHA-256 of the canonical text itself, for `{}`. */
    CHECK(fingerprint_of("{ }", a) == 0 &&
          strcmp(a, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a") == 0);
}

static void test_duration(void)
{
    int64_t ms = -1;
    CHECK(duration_parse("90s", &ms) == 0 && ms == 90000);
    CHECK(duration_parse("10m", &ms) == 0 && ms == 600000);
    CHECK(duration_parse("6h", &ms) == 0 && ms == 6 * 3600000LL);
    CHECK(duration_parse("30d", &ms) == 0 && ms == 30 * 86400000LL);
    CHECK(duration_parse("0s", &ms) == 0 && ms == 0);
    static const char *const bad[] = {"", "6", "h", "-5m", "5 m", "5mm", "1.5h", "5w", "99999999999999999999d",
                                      "40000d"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(duration_parse(bad[i], &ms) == -1);
}

static ack_entry *entry(uint64_t epoch, int mid, int64_t seq)
{
    ack_entry *e = calloc(1, sizeof *e);
    if (e) {
        e->epoch = epoch;
        e->delivery = mid;
        e->seq = seq;
    }
    return e;
}

static int64_t pop_ready_seq(ack_queue *q, uint64_t committed)
{
    ack_entry *e = ack_queue_pop_ready(q, committed);
    int64_t seq = e ? e->seq : -1;
    free(e);
    return seq;
}

static void test_ack_queue(void)
{
    ack_queue q = {0};
    /* Epoch 1: seq 1 (PUBACK 7 pending), seq 2 (no publish), seq 3 (PUBACK 8); epoch 2: seq 4. */
    CHECK(ack_queue_push(&q, entry(1, 7, 1)) == 0);
    CHECK(ack_queue_push(&q, entry(1, 0, 2)) == 0);
    CHECK(ack_queue_push(&q, entry(1, 8, 3)) == 0);
    CHECK(ack_queue_push(&q, entry(2, 0, 4)) == 0);
    CHECK(q.length == 4);
    /* Nothing before its batch is committed, whatever its PUBACKs. */
    CHECK(pop_ready_seq(&q, 0) == -1);
    /* Committed: the one without a publish goes; the others wait for PUBACK. */
    CHECK(pop_ready_seq(&q, 1) == 2);
    CHECK(pop_ready_seq(&q, 1) == -1);
    /* A PUBACK for no queued entry (an event's) changes nothing. */
    CHECK(ack_queue_delivered(&q, 99) == 0);
    CHECK(ack_queue_delivered(&q, 8) == 1);
    CHECK(ack_queue_delivered(&q, 8) == 0); /* twice: the second is not ours */
    CHECK(pop_ready_seq(&q, 1) == 3);
    CHECK(ack_queue_delivered(&q, 7) == 1);
    /* Epoch 2 is not committed: the search stops at it. */
    CHECK(pop_ready_seq(&q, 1) == 1);
    CHECK(pop_ready_seq(&q, 1) == -1);
    CHECK(q.length == 1);
    /* A failed batch: its entries come out by epoch, in order. */
    CHECK(ack_queue_push(&q, entry(2, 9, 5)) == 0);
    CHECK(ack_queue_push(&q, entry(3, 0, 6)) == 0);
    ack_entry *e = ack_queue_pop_epoch(&q, 2);
    CHECK(e && e->seq == 4);
    free(e);
    e = ack_queue_pop_epoch(&q, 2);
    CHECK(e && e->seq == 5);
    free(e);
    CHECK(ack_queue_pop_epoch(&q, 2) == NULL);
    /* The popped entry's PUBACK slot is gone with it. */
    CHECK(ack_queue_delivered(&q, 9) == 0);
    CHECK(q.length == 1 && q.head == q.tail);
    ack_queue_clear(&q);
    CHECK(q.head == NULL && q.tail == NULL && q.length == 0 && q.by_delivery == NULL);
}

static void test_text_buf(void)
{
    text_buf t = {0};
    char *empty = text_buf_take(&t);
    CHECK(empty && empty[0] == '\0');
    free(empty);
    text_buf_printf(&t, "# HELP %s\n", "kb_x");
    text_buf_printf(&t, "kb_x{tenant=\"%s\"} %d\n", "a", 7);
    text_buf_printf(&t, "%s", "");
    const char *head = "# HELP kb_x\nkb_x{tenant=\"a\"} 7\n";
    CHECK(t.buf && strcmp(t.buf, head) == 0 && t.len == strlen(head));
    char big[5000]; /* more than the first allocation, then more than each doubling */
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 20; i++) text_buf_printf(&t, "%s", big);
    char *text = text_buf_take(&t);
    size_t base = strlen(head);
    CHECK(text && strlen(text) == base + 20 * (sizeof big - 1) && strncmp(text, head, base) == 0 && text[base] == 'y');
    CHECK(t.buf == NULL && t.len == 0 && !t.failed);
    free(text);
    /* A failure sticks: later appends do nothing, and the take frees and says NULL. */
    text_buf_printf(&t, "kept until the failure");
    t.failed = 1;
    text_buf_printf(&t, "dropped");
    CHECK(text_buf_take(&t) == NULL && t.buf == NULL && !t.failed);
}

static void test_charset(void)
{
    CHECK(charset_is("pizza-2_x", 32, CHARSET_LOWER | CHARSET_DIGITS, "_-"));
    CHECK(!charset_is("Pizza", 32, CHARSET_LOWER | CHARSET_DIGITS, "_-"));
    CHECK(!charset_is("", 32, CHARSET_LOWER, ""));
    CHECK(charset_is("abc", 3, CHARSET_LOWER, "") && !charset_is("abcd", 3, CHARSET_LOWER, ""));
    CHECK(!charset_is("a b", 8, CHARSET_LOWER, "_"));
    CHECK(!charset_is("a\xc3\xa9", 8, CHARSET_LOWER | CHARSET_UPPER | CHARSET_DIGITS, "._-"));
    CHECK(order_number_valid("A-1.x_2") && !order_number_valid("A/1") && !order_number_valid("A 1"));
    CHECK(registry_id_valid("kb-x_1") && !registry_id_valid("kb.x"));
}

int main(void)
{
    test_charset();
    test_text_buf();
    test_ack_queue();
    test_fingerprint();
    test_duration();
    test_valid_order_is_kept_whole();
    test_numeric_tenant_is_normalised();
    test_rejections();
    test_kitchen_requests();
    test_state_machine();
    test_registry();
    test_topics();
    return check_report();
}
