/* pipeline_test.c - the order pipeline (core/order_pipeline.c) on a real
 * SQLite journal in a temp dir, with a fake sink that records every publish
 * and hands out delivery tokens (and can be told to fail), a fake reply that
 * records every ack, and observers and a commit hook that count their calls.
 *
 * The rules under test are the old order service's (docs/CONTRACT.md):
 * acks wait for the commit and the delivery, duplicates by fingerprint, an
 * order number used again after its order closed, the lifecycle, receipts,
 * and a failed batch that is rejected whole and never reuses a seq; and
 * issue 14's stations: parts, station reports, the order following them. */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "journal.h"
#include "order_pipeline.h"
#include "order_status.h"
#include "registry.h"
#include "status.h"

#include "check.h"
#include "journal_files.h"

static char dir[] = "/tmp/kb-pipeline-test-XXXXXX";
static int db_count;

static const char registry_json[] =
    "{\"outlet\":{\"id\":\"test\",\"name\":\"Test Court\"},"
    "\"legacy\":{\"mode\":\"authenticated\"},"
    "\"tenants\":["
    "{\"id\":\"pizza\",\"name\":\"Pizza Paradise\",\"devices\":["
    "{\"username\":\"pizza-pos\",\"role\":\"pos\"},{\"username\":\"pizza-kitchen\",\"role\":\"kitchen\"}]},"
    "{\"id\":\"burger\",\"name\":\"Burger Station\",\"devices\":["
    "{\"username\":\"burger-pos\",\"role\":\"pos\"},{\"username\":\"burger-kitchen\",\"role\":\"kitchen\"}]}],"
    "\"admins\":[{\"username\":\"admin\"}]}";

/* ---- what the fakes record ---------------------------------------------- */

typedef struct {
    char kind; /* 'S' a retained state, 'E' an event */
    char tenant[REGISTRY_ID_MAX + 1];
    char number[ORDER_NUMBER_MAX + 1]; /* 'S' only */
    char *doc;                         /* a copy; NULL: the state was cleared */
    int waited;                        /* 'S': the pipeline asked for a token */
    int token;                         /* 'S': the token handed out, 0 none */
    int delivered;                     /* the test has confirmed the token */
} pub_rec;

typedef struct {
    kb_ack_result result;
    char order_number[ORDER_NUMBER_MAX + 1];
    int64_t seq;
    order_status status;
    kb_error error;
    char detail[256];
    char tenant[REGISTRY_ID_MAX + 1];
    char device[REGISTRY_ID_MAX + 1];
    device_role role;
    uint64_t reply_id;
} ack_rec;

typedef struct {
    int observer;
    char tenant[REGISTRY_ID_MAX + 1];
    char *doc;
    int created;
} change_rec;

typedef struct fixture fixture;
typedef struct {
    fixture *f;
    int id;
} observer_tag;

struct fixture {
    char path[512];
    journal *j;
    kb_status st;
    registry *reg;
    kb_pipeline *p;
    kb_order_sink sink;
    /* The sink. */
    pub_rec *pubs;
    int n_pubs, cap_pubs;
    int give_tokens; /* 1: every waited-for state gets a token; 0: *delivery = 0 */
    int next_token;
    int fail_state, fail_event; /* 1: the call returns -1 */
    int refused;                /* calls that returned -1 */
    /* The reply. */
    ack_rec *acks;
    int n_acks, cap_acks;
    /* Observers and the commit hook. */
    change_rec *changes;
    int n_changes, cap_changes;
    observer_tag tags[PIPELINE_OBSERVERS_MAX + 1];
    int hook_calls;
    kb_origin pizza_pos, pizza_kitchen, burger_pos, burger_kitchen;
};

#define GROW(arr, n, cap)                                                        \
    do {                                                                         \
        if ((n) == (cap)) {                                                      \
            (cap) = (cap) ? 2 * (cap) : 16;                                      \
            void *grown_ = realloc((arr), (size_t)(cap) * sizeof *(arr));        \
            if (!grown_) abort();                                                \
            (arr) = grown_;                                                      \
        }                                                                        \
    } while (0)

static char *copy_or_null(const char *s)
{
    if (!s) return NULL;
    char *c = strdup(s);
    if (!c) abort();
    return c;
}

static int sink_state(void *ctx, const char *tenant, const char *order_number, const char *doc, int *delivery)
{
    fixture *f = ctx;
    if (f->fail_state) {
        f->refused++;
        return -1;
    }
    GROW(f->pubs, f->n_pubs, f->cap_pubs);
    pub_rec *r = &f->pubs[f->n_pubs++];
    memset(r, 0, sizeof *r);
    r->kind = 'S';
    snprintf(r->tenant, sizeof r->tenant, "%s", tenant);
    snprintf(r->number, sizeof r->number, "%s", order_number);
    r->doc = copy_or_null(doc);
    r->waited = delivery != NULL;
    if (delivery) {
        *delivery = f->give_tokens ? ++f->next_token : 0;
        r->token = *delivery;
    }
    return 0;
}

static int sink_event(void *ctx, const char *tenant, const char *event_doc)
{
    fixture *f = ctx;
    if (f->fail_event) {
        f->refused++;
        return -1;
    }
    GROW(f->pubs, f->n_pubs, f->cap_pubs);
    pub_rec *r = &f->pubs[f->n_pubs++];
    memset(r, 0, sizeof *r);
    r->kind = 'E';
    snprintf(r->tenant, sizeof r->tenant, "%s", tenant);
    r->doc = copy_or_null(event_doc);
    return 0;
}

/* The ack lives only for the call: everything is copied. */
static void on_reply(void *ctx, const kb_origin *from, const kb_ack *ack)
{
    fixture *f = ctx;
    GROW(f->acks, f->n_acks, f->cap_acks);
    ack_rec *a = &f->acks[f->n_acks++];
    memset(a, 0, sizeof *a);
    a->result = ack->result;
    snprintf(a->order_number, sizeof a->order_number, "%s", ack->order_number ? ack->order_number : "(null)");
    a->seq = ack->seq;
    a->status = ack->status;
    a->error = ack->error;
    snprintf(a->detail, sizeof a->detail, "%s", ack->detail ? ack->detail : "");
    snprintf(a->tenant, sizeof a->tenant, "%s", from->tenant);
    snprintf(a->device, sizeof a->device, "%s", from->device);
    a->role = from->role;
    a->reply_id = from->reply_id;
}

static void on_change(void *ctx, const char *tenant, const char *doc, int created)
{
    observer_tag *t = ctx;
    fixture *f = t->f;
    GROW(f->changes, f->n_changes, f->cap_changes);
    change_rec *c = &f->changes[f->n_changes++];
    c->observer = t->id;
    snprintf(c->tenant, sizeof c->tenant, "%s", tenant);
    c->doc = copy_or_null(doc);
    c->created = created;
}

static void on_commit_soon(void *ctx) { ((fixture *)ctx)->hook_calls++; }

/* ---- the fixture -------------------------------------------------------- */

static int make_origin(fixture *f, kb_origin *o, const char *tenant, const char *username, uint64_t id)
{
    memset(o, 0xa5, sizeof *o); /* pipeline_origin must fill what it returns */
    if (pipeline_origin(f->p, tenant, username, o) != 0) return -1;
    o->reply = on_reply;
    o->reply_ctx = f;
    o->reply_id = id;
    return 0;
}

static int setup_registry(fixture *f, int64_t dedupe_window_ms, const char *json)
{
    char err[256];
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s/journal-%d.db", dir, ++db_count);
    if (journal_open(&f->j, f->path, err, sizeof err) != 0) {
        fprintf(stderr, "journal_open: %s\n", err);
        CHECK(0);
        return -1;
    }
    if (registry_parse(json, strlen(json), &f->reg, err, sizeof err) != 0) {
        fprintf(stderr, "registry_parse: %s\n", err);
        CHECK(0);
        journal_close(f->j);
        return -1;
    }
    status_init(&f->st);
    f->p = pipeline_new(f->j, &f->st, &f->reg, dedupe_window_ms);
    CHECK(f->p != NULL);
    if (!f->p) {
        journal_close(f->j);
        registry_free(f->reg);
        return -1;
    }
    f->give_tokens = 1;
    f->next_token = 100;
    f->sink = (kb_order_sink){.publish_state = sink_state, .publish_event = sink_event, .ctx = f};
    pipeline_set_sink(f->p, &f->sink);
    pipeline_set_commit_hook(f->p, on_commit_soon, f);
    CHECK(make_origin(f, &f->pizza_pos, "pizza", "pizza-pos", 11) == 0);
    CHECK(make_origin(f, &f->pizza_kitchen, "pizza", "pizza-kitchen", 12) == 0);
    CHECK(make_origin(f, &f->burger_pos, "burger", "burger-pos", 21) == 0);
    CHECK(make_origin(f, &f->burger_kitchen, "burger", "burger-kitchen", 22) == 0);
    return 0;
}

static int setup(fixture *f, int64_t dedupe_window_ms) { return setup_registry(f, dedupe_window_ms, registry_json); }

static void teardown(fixture *f)
{
    if (f->p) pipeline_free(f->p); /* may still reply: the fixture is alive */
    journal_close(f->j);
    registry_free(f->reg);
    for (int i = 0; i < f->n_pubs; i++) free(f->pubs[i].doc);
    for (int i = 0; i < f->n_changes; i++) free(f->changes[i].doc);
    free(f->pubs);
    free(f->acks);
    free(f->changes);
    remove_db(f->path);
}

/* ---- helpers ------------------------------------------------------------ */

static void submit(fixture *f, const kb_origin *o, const char *json) { pipeline_submit(f->p, o, json, strlen(json)); }
static void receipt(fixture *f, const kb_origin *o, const char *json)
{
    pipeline_receipt(f->p, o, json, strlen(json));
}

/* Confirms every token handed out and not yet confirmed, in order. */
static void deliver_all(fixture *f)
{
    for (int i = 0; i < f->n_pubs; i++)
        if (f->pubs[i].token && !f->pubs[i].delivered) {
            f->pubs[i].delivered = 1;
            pipeline_delivered(f->p, f->pubs[i].token);
        }
}

static void settle(fixture *f)
{
    pipeline_flush(f->p);
    deliver_all(f);
}

/* The newest ack, or an empty record (so a check on it fails, never crashes). */
static const ack_rec *last_ack(const fixture *f)
{
    static const ack_rec none;
    return f->n_acks ? &f->acks[f->n_acks - 1] : &none;
}

static int ack_is(const ack_rec *a, kb_ack_result result, const char *number, int64_t seq, order_status status)
{
    return a && a->result == result && strcmp(a->order_number, number) == 0 && a->seq == seq && a->status == status;
}

static int rejected_with(const ack_rec *a, const char *number, kb_error e)
{
    return a && a->result == KB_ACK_REJECTED && strcmp(a->order_number, number) == 0 && a->error == e &&
           a->detail[0] != '\0';
}

/* The ack for `number` sent to `device`, the last one if several. */
static const ack_rec *ack_for(const fixture *f, const char *device, const char *number)
{
    for (int i = f->n_acks - 1; i >= 0; i--)
        if (strcmp(f->acks[i].device, device) == 0 && strcmp(f->acks[i].order_number, number) == 0)
            return &f->acks[i];
    return NULL;
}

static const char *order_json(char *buf, size_t len, const char *tenant, const char *number, int qty)
{
    snprintf(buf, len,
             "{\"order_number\":\"%s\",\"tenant_id\":\"%s\",\"items\":[{\"name\":\"Margherita\",\"qty\":%d,"
             "\"modifiers\":[\"extra cheese\"]}],\"table\":\"12\",\"created_at\":\"2026-11-25T10:00:00Z\","
             "\"x_unknown\":{\"kept\":true}}",
             number, tenant, qty);
    return buf;
}

/* A status request as a kitchen sends it, or a POS (with action "status"). */
static const char *status_json(char *buf, size_t len, const kb_origin *o, const char *number, order_status s)
{
    snprintf(buf, len, "{\"order_number\":\"%s\",%s\"status\":\"%s\"}", number,
             o->role == DEVICE_POS ? "\"action\":\"status\"," : "", order_status_name(s));
    return buf;
}

/* A number field of a JSON document, -1 if absent. */
static int64_t json_num(const char *doc, const char *key)
{
    cJSON *v = doc ? cJSON_Parse(doc) : NULL;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(v, key);
    int64_t out = cJSON_IsNumber(n) ? (int64_t)n->valuedouble : -1;
    cJSON_Delete(v);
    return out;
}

static int json_str_is(const char *doc, const char *key, const char *want)
{
    cJSON *v = doc ? cJSON_Parse(doc) : NULL;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, key);
    int ok = cJSON_IsString(s) && strcmp(s->valuestring, want) == 0;
    cJSON_Delete(v);
    return ok;
}

static int json_has(const char *doc, const char *key)
{
    cJSON *v = doc ? cJSON_Parse(doc) : NULL;
    int ok = cJSON_GetObjectItemCaseSensitive(v, key) != NULL;
    cJSON_Delete(v);
    return ok;
}

/* Submits a new order and settles it: its seq if it was accepted as new, else -1. */
static int64_t create_order(fixture *f, const kb_origin *o, const char *number, int qty)
{
    char buf[512];
    int n0 = f->n_acks;
    submit(f, o, order_json(buf, sizeof buf, o->tenant, number, qty));
    settle(f);
    const ack_rec *a = last_ack(f);
    if (f->n_acks != n0 + 1 || !a || a->result != KB_ACK_ACCEPTED || a->status != ORDER_STATUS_NEW ||
        strcmp(a->order_number, number) != 0)
        return -1;
    return a->seq;
}

/* Asks for status `s` and settles: the ack's seq if it was accepted with s, else -1. */
static int64_t move_order(fixture *f, const kb_origin *o, const char *number, order_status s)
{
    char buf[256];
    int n0 = f->n_acks;
    submit(f, o, status_json(buf, sizeof buf, o, number, s));
    settle(f);
    const ack_rec *a = last_ack(f);
    if (f->n_acks != n0 + 1 || !a || a->result != KB_ACK_ACCEPTED || a->status != s ||
        strcmp(a->order_number, number) != 0)
        return -1;
    return a->seq;
}

/* The journal's latest instance of an order: status (INVALID if none), seq, created_seq. */
static order_status journaled(fixture *f, const char *tenant, const char *number, int64_t *seq, int64_t *created)
{
    journal_order o = {0};
    int found = journal_get_order(f->j, tenant, number, &o);
    order_status s = found == 1 ? o.status : ORDER_STATUS_INVALID;
    if (seq) *seq = found == 1 ? o.seq : -1;
    if (created) *created = found == 1 ? o.created_seq : -1;
    free(o.doc);
    return s;
}

/* The journal's doc of an order (malloc'd), NULL if none. */
static char *journaled_doc(fixture *f, const char *tenant, const char *number)
{
    journal_order o = {0};
    if (journal_get_order(f->j, tenant, number, &o) != 1) return NULL;
    return o.doc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ---- tests -------------------------------------------------------------- */

static void test_origin(void)
{
    fixture f;
    if (setup(&f, 60000) != 0) return;
    CHECK(strcmp(f.pizza_pos.tenant, "pizza") == 0 && strcmp(f.pizza_pos.device, "pizza-pos") == 0 &&
          f.pizza_pos.role == DEVICE_POS);
    CHECK(strcmp(f.burger_kitchen.tenant, "burger") == 0 && strcmp(f.burger_kitchen.device, "burger-kitchen") == 0 &&
          f.burger_kitchen.role == DEVICE_KITCHEN);
    kb_origin o;
    CHECK(pipeline_origin(f.p, "pizza", "nobody", &o) == -1);       /* unknown device */
    CHECK(pipeline_origin(f.p, "burger", "pizza-pos", &o) == -1);   /* another tenant's */
    CHECK(pipeline_origin(f.p, "sushi", "pizza-pos", &o) == -1);    /* unknown tenant */
    CHECK(pipeline_origin(f.p, "pizza", "admin", &o) == -1);        /* an admin sends no orders */
    CHECK(pipeline_origin(f.p, "burger", "admin", &o) == -1);
    /* The registry is read at each request: a reload needs no call. */
    static const char smaller[] = "{\"outlet\":{\"id\":\"test\"},\"tenants\":[{\"id\":\"pizza\",\"devices\":["
                                  "{\"username\":\"pizza-pos\",\"role\":\"pos\"}]}]}";
    registry *old = f.reg, *next = NULL;
    char err[256];
    CHECK(registry_parse(smaller, strlen(smaller), &next, err, sizeof err) == 0);
    if (next) {
        f.reg = next;
        CHECK(pipeline_origin(f.p, "burger", "burger-pos", &o) == -1);
        CHECK(pipeline_origin(f.p, "pizza", "pizza-kitchen", &o) == -1);
        CHECK(pipeline_origin(f.p, "pizza", "pizza-pos", &o) == 0 && o.role == DEVICE_POS);
        f.reg = old;
        registry_free(next);
    }
    CHECK(pipeline_origin(f.p, "burger", "burger-pos", &o) == 0);
    CHECK(pipeline_journal(f.p) == f.j);
    CHECK(f.n_acks == 0 && f.n_pubs == 0);
    teardown(&f);
}

static void check_created_state(const pub_rec *s, const char *tenant, const char *number, int64_t seq)
{
    CHECK(s->kind == 'S' && strcmp(s->tenant, tenant) == 0 && strcmp(s->number, number) == 0 && s->doc);
    CHECK(json_str_is(s->doc, "status", "new"));
    CHECK(json_num(s->doc, "seq") == seq && json_num(s->doc, "created_seq") == seq);
    CHECK(json_str_is(s->doc, "order_number", number) && json_str_is(s->doc, "tenant_id", tenant));
    CHECK(json_has(s->doc, "received_at") && json_has(s->doc, "updated_at"));
    CHECK(json_has(s->doc, "items") && json_has(s->doc, "x_unknown") && json_str_is(s->doc, "table", "12"));
    CHECK(s->waited == 1);
}

static void check_created_event(const pub_rec *e, const char *tenant, const char *number, int64_t seq,
                                const char *by)
{
    CHECK(e->kind == 'E' && strcmp(e->tenant, tenant) == 0 && e->doc);
    CHECK(json_str_is(e->doc, "event", "created") && json_str_is(e->doc, "order_number", number));
    CHECK(json_str_is(e->doc, "status", "new") && json_num(e->doc, "seq") == seq);
    CHECK(json_str_is(e->doc, "by", by) && json_has(e->doc, "at") && json_has(e->doc, "order"));
}

static void test_create(void)
{
    fixture f;
    if (setup(&f, 60000) != 0) return;
    char buf[512];

    /* Commit first, then delivery. */
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "A-1", 2));
    CHECK(f.n_acks == 0);
    CHECK(pipeline_acks_pending(f.p) == 1);
    CHECK(f.hook_calls == 1);
    CHECK(journal_has_uncommitted(f.j));
    CHECK(f.n_pubs == 2);
    if (f.n_pubs == 2) {
        /* A new state goes before its event. */
        check_created_state(&f.pubs[0], "pizza", "A-1", 1);
        check_created_event(&f.pubs[1], "pizza", "A-1", 1, "pizza-pos");
        CHECK(f.pubs[0].token == 101);
    }
    pipeline_flush(f.p);
    CHECK(f.n_acks == 0);                  /* committed, not yet delivered */
    CHECK(pipeline_acks_pending(f.p) == 1);
    CHECK(!journal_has_uncommitted(f.j));
    int64_t seq, created;
    CHECK(journaled(&f, "pizza", "A-1", &seq, &created) == ORDER_STATUS_NEW && seq == 1 && created == 1);
    char *doc = journaled_doc(&f, "pizza", "A-1");
    CHECK(doc && f.n_pubs >= 1 && f.pubs[0].doc && strcmp(doc, f.pubs[0].doc) == 0);
    free(doc);
    pipeline_delivered(f.p, 4242); /* someone else's token */
    CHECK(f.n_acks == 0);
    pipeline_delivered(f.p, 101);
    f.pubs[0].delivered = 1;
    CHECK(f.n_acks == 1 && ack_is(last_ack(&f), KB_ACK_ACCEPTED, "A-1", 1, ORDER_STATUS_NEW));
    CHECK(strcmp(last_ack(&f)->device, "pizza-pos") == 0 && strcmp(last_ack(&f)->tenant, "pizza") == 0 &&
          last_ack(&f)->reply_id == 11 && last_ack(&f)->role == DEVICE_POS);
    CHECK(pipeline_acks_pending(f.p) == 0);
    CHECK(f.st.accepted == 1 && f.st.ack_latency_count == 1);
    pipeline_delivered(f.p, 101); /* twice: nothing more */
    pipeline_flush(f.p);
    CHECK(f.n_acks == 1);

    /* Delivery first, then the commit. */
    int before = f.n_pubs;
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "A-2", 1));
    CHECK(f.n_pubs == before + 2 && f.hook_calls == 2);
    int token = f.n_pubs > before ? f.pubs[before].token : 0;
    CHECK(token == 102);
    pipeline_delivered(f.p, token);
    f.pubs[before].delivered = 1;
    CHECK(f.n_acks == 1); /* delivered, not yet committed */
    CHECK(pipeline_acks_pending(f.p) == 1);
    pipeline_flush(f.p);
    CHECK(f.n_acks == 2 && ack_is(last_ack(&f), KB_ACK_ACCEPTED, "A-2", 2, ORDER_STATUS_NEW));

    /* A sink that needs no confirmation: the commit alone releases the ack. */
    f.give_tokens = 0;
    before = f.n_pubs;
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "A-3", 1));
    CHECK(f.n_pubs == before + 2 && f.n_pubs > before && f.pubs[before].token == 0 && f.pubs[before].waited);
    CHECK(f.n_acks == 2);
    pipeline_flush(f.p);
    CHECK(f.n_acks == 3 && ack_is(last_ack(&f), KB_ACK_ACCEPTED, "A-3", 3, ORDER_STATUS_NEW));
    f.give_tokens = 1;

    /* Two in one batch: one commit, both acked. */
    uint64_t commits = journal_commit_count(f.j);
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "A-4", 1));
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "A-5", 1));
    CHECK(f.n_acks == 3 && pipeline_acks_pending(f.p) == 2);
    settle(&f);
    CHECK(journal_commit_count(f.j) == commits + 1);
    CHECK(f.n_acks == 5 && ack_is(ack_for(&f, "pizza-pos", "A-4"), KB_ACK_ACCEPTED, "A-4", 4, ORDER_STATUS_NEW) &&
          ack_is(ack_for(&f, "pizza-pos", "A-5"), KB_ACK_ACCEPTED, "A-5", 5, ORDER_STATUS_NEW));

    /* Seqs are per tenant; an order number of one tenant is not another's. */
    before = f.n_pubs;
    CHECK(create_order(&f, &f.burger_pos, "A-1", 7) == 1);
    CHECK(f.n_pubs == before + 2 && f.n_pubs > before);
    if (f.n_pubs == before + 2) {
        check_created_state(&f.pubs[before], "burger", "A-1", 1);
        check_created_event(&f.pubs[before + 1], "burger", "A-1", 1, "burger-pos");
    }
    CHECK(strcmp(last_ack(&f)->device, "burger-pos") == 0 && last_ack(&f)->reply_id == 21);
    CHECK(pipeline_last_seq(f.p, "pizza") == 5 && pipeline_last_seq(f.p, "burger") == 1);
    CHECK(journaled(&f, "pizza", "A-1", &seq, NULL) == ORDER_STATUS_NEW && seq == 1);
    CHECK(f.st.accepted == 6 && f.st.duplicates == 0);

    /* An order of another tenant: a rejection, at once. */
    int acks = f.n_acks;
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "burger", "A-9", 1));
    CHECK(f.n_acks == acks + 1 && rejected_with(last_ack(&f), "A-9", KB_ERR_TENANT_MISMATCH));
    CHECK(journaled(&f, "pizza", "A-9", NULL, NULL) == ORDER_STATUS_INVALID);
    teardown(&f);
}

static void test_duplicates_and_reuse(void)
{
    fixture f;
    if (setup(&f, 6LL * 3600 * 1000) != 0) return;
    char buf[512], other[512];
    order_json(buf, sizeof buf, "pizza", "D-1", 2);
    order_json(other, sizeof other, "pizza", "D-1", 3);

    CHECK(create_order(&f, &f.pizza_pos, "D-1", 2) == 1);
    int pubs = f.n_pubs, acks = f.n_acks;
    /* The same content again while open: duplicate, its seq, nothing published or journaled. */
    submit(&f, &f.pizza_pos, buf);
    CHECK(!journal_has_uncommitted(f.j));
    settle(&f);
    CHECK(f.n_acks == acks + 1 && ack_is(last_ack(&f), KB_ACK_DUPLICATE, "D-1", 1, ORDER_STATUS_NEW));
    CHECK(f.n_pubs == pubs);
    CHECK(f.st.duplicates == 1);
    /* Key order and spacing are not content. */
    static const char reordered[] =
        "{ \"x_unknown\": {\"kept\": true}, \"created_at\": \"2026-11-25T10:00:00Z\", \"table\": \"12\","
        " \"items\": [{\"modifiers\": [\"extra cheese\"], \"qty\": 2, \"name\": \"Margherita\"}],"
        " \"tenant_id\": \"pizza\", \"order_number\": \"D-1\" }";
    submit(&f, &f.pizza_pos, reordered);
    settle(&f);
    CHECK(f.n_acks == acks + 2 && ack_is(last_ack(&f), KB_ACK_DUPLICATE, "D-1", 1, ORDER_STATUS_NEW));
    CHECK(f.n_pubs == pubs);

    /* After a move, a duplicate names the creation's seq and the current status. */
    CHECK(move_order(&f, &f.pizza_kitchen, "D-1", ORDER_STATUS_ACCEPTED) == 2);
    pubs = f.n_pubs;
    acks = f.n_acks;
    submit(&f, &f.pizza_pos, buf);
    settle(&f);
    CHECK(f.n_acks == acks + 1 && ack_is(last_ack(&f), KB_ACK_DUPLICATE, "D-1", 1, ORDER_STATUS_ACCEPTED));
    CHECK(f.n_pubs == pubs);

    /* Other content while open: order_number_in_use, at once, nothing replaced. */
    acks = f.n_acks;
    submit(&f, &f.pizza_pos, other);
    CHECK(f.n_acks == acks + 1 && rejected_with(last_ack(&f), "D-1", KB_ERR_ORDER_NUMBER_IN_USE));
    CHECK(f.n_acks > acks && strstr(last_ack(&f)->detail, "accepted") && strstr(last_ack(&f)->detail, "2"));
    CHECK(f.n_pubs == pubs && !journal_has_uncommitted(f.j));
    CHECK(f.st.rejected[KB_ERR_ORDER_NUMBER_IN_USE] == 1);
    settle(&f);
    CHECK(f.n_acks == acks + 1);
    int64_t seq, created;
    CHECK(journaled(&f, "pizza", "D-1", &seq, &created) == ORDER_STATUS_ACCEPTED && seq == 2 && created == 1);

    /* Served: the same content within the dedupe window is still a duplicate. */
    CHECK(move_order(&f, &f.pizza_kitchen, "D-1", ORDER_STATUS_PREPARING) == 3);
    CHECK(move_order(&f, &f.pizza_kitchen, "D-1", ORDER_STATUS_READY) == 4);
    CHECK(move_order(&f, &f.pizza_kitchen, "D-1", ORDER_STATUS_SERVED) == 5);
    pubs = f.n_pubs;
    acks = f.n_acks;
    submit(&f, &f.pizza_pos, buf);
    settle(&f);
    CHECK(f.n_acks == acks + 1 && ack_is(last_ack(&f), KB_ACK_DUPLICATE, "D-1", 1, ORDER_STATUS_SERVED));
    CHECK(f.n_pubs == pubs);

    /* Other content after the close: a new instance with a new seq. */
    submit(&f, &f.pizza_pos, other);
    CHECK(f.n_pubs == pubs + 2);
    if (f.n_pubs == pubs + 2) {
        check_created_state(&f.pubs[pubs], "pizza", "D-1", 6);
        check_created_event(&f.pubs[pubs + 1], "pizza", "D-1", 6, "pizza-pos");
    }
    settle(&f);
    CHECK(f.n_acks == acks + 2 && ack_is(last_ack(&f), KB_ACK_ACCEPTED, "D-1", 6, ORDER_STATUS_NEW));
    CHECK(journaled(&f, "pizza", "D-1", &seq, &created) == ORDER_STATUS_NEW && seq == 6 && created == 6);
    /* Commands address the open (latest) instance. */
    pubs = f.n_pubs;
    acks = f.n_acks;
    submit(&f, &f.pizza_pos, "{\"order_number\":\"D-1\",\"action\":\"cancel\"}");
    settle(&f);
    CHECK(f.n_acks == acks + 1 && ack_is(last_ack(&f), KB_ACK_ACCEPTED, "D-1", 7, ORDER_STATUS_CANCELLED));
    CHECK(journaled(&f, "pizza", "D-1", &seq, &created) == ORDER_STATUS_CANCELLED && seq == 7 && created == 6);
    /* Only the latest instance counts: the first one's content is a new order now. */
    CHECK(create_order(&f, &f.pizza_pos, "D-1", 2) == 8);
    CHECK(journaled(&f, "pizza", "D-1", &seq, &created) == ORDER_STATUS_NEW && created == 8);

    /* A duplicate of a change still in the open batch waits for that batch. */
    order_json(buf, sizeof buf, "pizza", "D-2", 1);
    acks = f.n_acks;
    submit(&f, &f.pizza_pos, buf);
    submit(&f, &f.pizza_pos, buf);
    CHECK(f.n_acks == acks && pipeline_acks_pending(f.p) == 2);
    settle(&f);
    CHECK(f.n_acks == acks + 2 && pipeline_acks_pending(f.p) == 0);
    int accepted = 0, duplicate = 0;
    for (int i = acks; i < f.n_acks; i++) {
        accepted += ack_is(&f.acks[i], KB_ACK_ACCEPTED, "D-2", 9, ORDER_STATUS_NEW);
        duplicate += ack_is(&f.acks[i], KB_ACK_DUPLICATE, "D-2", 9, ORDER_STATUS_NEW);
    }
    CHECK(accepted == 1 && duplicate == 1);
    teardown(&f);

    /* No dedupe window: the same content after the close is a new instance. */
    if (setup(&f, 0) != 0) return;
    order_json(buf, sizeof buf, "burger", "W-1", 1);
    CHECK(create_order(&f, &f.burger_pos, "W-1", 1) == 1);
    submit(&f, &f.burger_pos, buf); /* while open, still a duplicate */
    settle(&f);
    CHECK(ack_is(last_ack(&f), KB_ACK_DUPLICATE, "W-1", 1, ORDER_STATUS_NEW));
    CHECK(move_order(&f, &f.burger_pos, "W-1", ORDER_STATUS_CANCELLED) == 2);
    sleep_ms(20);
    CHECK(create_order(&f, &f.burger_pos, "W-1", 1) == 3);
    CHECK(journaled(&f, "burger", "W-1", &seq, &created) == ORDER_STATUS_NEW && seq == 3 && created == 3);
    teardown(&f);

    /* A tiny window that has passed: also a new instance. */
    if (setup(&f, 30) != 0) return;
    CHECK(create_order(&f, &f.pizza_pos, "W-2", 1) == 1);
    CHECK(move_order(&f, &f.pizza_kitchen, "W-2", ORDER_STATUS_CANCELLED) == 2);
    sleep_ms(80);
    CHECK(create_order(&f, &f.pizza_pos, "W-2", 1) == 3);
    teardown(&f);
}

/* Kitchen moves that bring a new order to `s`. */
static int walk_to(fixture *f, const char *number, order_status s)
{
    static const order_status forward[] = {ORDER_STATUS_ACCEPTED, ORDER_STATUS_PREPARING, ORDER_STATUS_READY,
                                           ORDER_STATUS_SERVED};
    if (s == ORDER_STATUS_NEW) return 0;
    if (s == ORDER_STATUS_CANCELLED) return move_order(f, &f->pizza_kitchen, number, s) > 0 ? 0 : -1;
    for (size_t i = 0; i < sizeof forward / sizeof *forward; i++) {
        if (move_order(f, &f->pizza_kitchen, number, forward[i]) < 0) return -1;
        if (forward[i] == s) return 0;
    }
    return -1;
}

static void test_lifecycle(void)
{
    fixture f;
    if (setup(&f, 60000) != 0) return;
    char number[32], buf[256];
    int allowed = 0;
    for (int from = ORDER_STATUS_NEW; from <= ORDER_STATUS_CANCELLED; from++)
        for (int to = ORDER_STATUS_NEW; to <= ORDER_STATUS_CANCELLED; to++) {
            snprintf(number, sizeof number, "L-%d-%d", from, to);
            int64_t created = create_order(&f, &f.pizza_pos, number, 1);
            CHECK(created > 0);
            CHECK(walk_to(&f, number, (order_status)from) == 0);
            int64_t seq0 = pipeline_last_seq(f.p, "pizza"), jseq;
            CHECK(journaled(&f, "pizza", number, &jseq, NULL) == (order_status)from && jseq == seq0);
            int pubs = f.n_pubs, acks = f.n_acks;
            submit(&f, &f.pizza_kitchen, status_json(buf, sizeof buf, &f.pizza_kitchen, number, (order_status)to));
            if (order_status_can_move((order_status)from, (order_status)to)) {
                allowed++;
                CHECK(f.n_acks == acks); /* waits for commit and delivery */
                int closing = !order_status_is_open((order_status)to);
                CHECK(f.n_pubs == pubs + 2);
                if (f.n_pubs == pubs + 2) {
                    /* A closing order's event goes first, then its state is cleared. */
                    const pub_rec *st = &f.pubs[pubs + (closing ? 1 : 0)];
                    const pub_rec *ev = &f.pubs[pubs + (closing ? 0 : 1)];
                    CHECK(st->kind == 'S' && ev->kind == 'E' && strcmp(st->number, number) == 0);
                    if (closing) {
                        CHECK(st->doc == NULL);
                    } else {
                        CHECK(json_str_is(st->doc, "status", order_status_name((order_status)to)));
                        CHECK(json_num(st->doc, "seq") == seq0 + 1 && json_num(st->doc, "created_seq") == created);
                        CHECK(json_has(st->doc, "items") && json_str_is(st->doc, "order_number", number));
                    }
                    CHECK(json_str_is(ev->doc, "event", closing ? "closed" : "status"));
                    CHECK(json_str_is(ev->doc, "status", order_status_name((order_status)to)));
                    CHECK(json_str_is(ev->doc, "previous", order_status_name((order_status)from)));
                    CHECK(json_num(ev->doc, "seq") == seq0 + 1 && json_str_is(ev->doc, "by", "pizza-kitchen"));
                }
                settle(&f);
                CHECK(f.n_acks == acks + 1 &&
                      ack_is(last_ack(&f), KB_ACK_ACCEPTED, number, seq0 + 1, (order_status)to));
                CHECK(journaled(&f, "pizza", number, &jseq, NULL) == (order_status)to && jseq == seq0 + 1);
            } else if (from == to) {
                settle(&f);
                CHECK(f.n_acks == acks + 1 && ack_is(last_ack(&f), KB_ACK_DUPLICATE, number, seq0, (order_status)from));
                CHECK(f.n_pubs == pubs);
            } else {
                kb_error want = order_status_is_open((order_status)from) ? KB_ERR_ILLEGAL_TRANSITION
                                                                         : KB_ERR_ORDER_CLOSED;
                CHECK(f.n_acks == acks + 1 && rejected_with(last_ack(&f), number, want)); /* at once */
                CHECK(f.n_pubs == pubs && !journal_has_uncommitted(f.j));
                settle(&f);
                CHECK(f.n_acks == acks + 1);
                CHECK(journaled(&f, "pizza", number, &jseq, NULL) == (order_status)from && jseq == seq0);
            }
            CHECK(pipeline_last_seq(f.p, "pizza") == seq0 + (order_status_can_move((order_status)from, (order_status)to) ? 1 : 0));
        }
    CHECK(allowed == 9);
    CHECK(f.st.rejected[KB_ERR_ILLEGAL_TRANSITION] == 11 && f.st.rejected[KB_ERR_ORDER_CLOSED] == 10);

    /* POS commands: cancel, and a status by action. */
    CHECK(create_order(&f, &f.pizza_pos, "P-1", 1) > 0);
    int64_t last = pipeline_last_seq(f.p, "pizza");
    submit(&f, &f.pizza_pos, "{\"order_number\":\"P-1\",\"action\":\"cancel\"}");
    settle(&f);
    CHECK(ack_is(last_ack(&f), KB_ACK_ACCEPTED, "P-1", last + 1, ORDER_STATUS_CANCELLED));
    CHECK(strcmp(last_ack(&f)->device, "pizza-pos") == 0);
    CHECK(f.n_pubs >= 2 && json_str_is(f.pubs[f.n_pubs - 2].doc, "by", "pizza-pos"));
    submit(&f, &f.pizza_pos, "{\"order_number\":\"P-1\",\"action\":\"cancel\"}"); /* again: duplicate */
    settle(&f);
    CHECK(ack_is(last_ack(&f), KB_ACK_DUPLICATE, "P-1", last + 1, ORDER_STATUS_CANCELLED));
    CHECK(create_order(&f, &f.pizza_pos, "P-2", 1) > 0);
    CHECK(walk_to(&f, "P-2", ORDER_STATUS_READY) == 0);
    submit(&f, &f.pizza_pos, "{\"order_number\":\"P-2\",\"action\":\"status\",\"status\":\"served\"}");
    settle(&f);
    CHECK(ack_is(last_ack(&f), KB_ACK_ACCEPTED, "P-2", pipeline_last_seq(f.p, "pizza"), ORDER_STATUS_SERVED));

    /* Rejections, each at once, with nothing published or journaled. */
    int pubs = f.n_pubs, acks = f.n_acks, hooks = f.hook_calls;
    submit(&f, &f.pizza_kitchen, "{\"order_number\":\"NOPE\",\"status\":\"ready\"}");
    CHECK(f.n_acks == acks + 1 && rejected_with(last_ack(&f), "NOPE", KB_ERR_UNKNOWN_ORDER));
    submit(&f, &f.pizza_pos, "{\"order_number\":\"NOPE\",\"action\":\"cancel\"}");
    CHECK(f.n_acks == acks + 2 && rejected_with(last_ack(&f), "NOPE", KB_ERR_UNKNOWN_ORDER));
    /* Another tenant's order is unknown here. */
    submit(&f, &f.burger_kitchen, "{\"order_number\":\"P-2\",\"status\":\"preparing\"}");
    CHECK(f.n_acks == acks + 3 && rejected_with(last_ack(&f), "P-2", KB_ERR_UNKNOWN_ORDER));
    CHECK(strcmp(last_ack(&f)->device, "burger-kitchen") == 0 && last_ack(&f)->reply_id == 22);
    static const char broken[] = "{\"order_number\":\"M-1\",";
    submit(&f, &f.pizza_pos, broken);
    CHECK(f.n_acks == acks + 4 && last_ack(&f)->result == KB_ACK_REJECTED &&
          last_ack(&f)->error == KB_ERR_MALFORMED_JSON && strcmp(last_ack(&f)->order_number, "") == 0);
    submit(&f, &f.pizza_kitchen, "[1,2]");
    CHECK(f.n_acks == acks + 5 && last_ack(&f)->error == KB_ERR_NOT_AN_OBJECT);
    submit(&f, &f.pizza_kitchen, "{\"order_number\":\"P-2\",\"status\":\"burnt\"}");
    CHECK(f.n_acks == acks + 6 && rejected_with(last_ack(&f), "P-2", KB_ERR_UNKNOWN_STATUS));
    submit(&f, &f.pizza_kitchen, "{\"order_number\":\"P-2\",\"action\":\"cancel\"}");
    CHECK(f.n_acks == acks + 7 && rejected_with(last_ack(&f), "P-2", KB_ERR_UNKNOWN_ACTION));
    CHECK(f.n_pubs == pubs && f.hook_calls == hooks && !journal_has_uncommitted(f.j));
    CHECK(f.st.rejected[KB_ERR_UNKNOWN_ORDER] == 3 && f.st.rejected[KB_ERR_MALFORMED_JSON] == 1 &&
          f.st.rejected[KB_ERR_NOT_AN_OBJECT] == 1);

    /* An adapter's own rejection: counted and answered at once, to whoever asked
     * (here an anonymous legacy client, in no registry). */
    kb_origin anon = {.role = DEVICE_KITCHEN, .reply = on_reply, .reply_ctx = &f, .reply_id = 77};
    snprintf(anon.tenant, sizeof anon.tenant, "pizza");
    snprintf(anon.device, sizeof anon.device, "legacy-kds-1");
    pipeline_reject(f.p, &anon, "Z-9", KB_ERR_UNKNOWN_ORDER, "no tenant has order Z-9");
    CHECK(f.n_acks == acks + 8 && rejected_with(last_ack(&f), "Z-9", KB_ERR_UNKNOWN_ORDER));
    CHECK(strcmp(last_ack(&f)->detail, "no tenant has order Z-9") == 0 &&
          strcmp(last_ack(&f)->device, "legacy-kds-1") == 0 && last_ack(&f)->reply_id == 77);
    CHECK(f.st.rejected[KB_ERR_UNKNOWN_ORDER] == 4);
    /* Such a client's changes go through like any device's. */
    CHECK(create_order(&f, &f.pizza_pos, "P-3", 1) > 0);
    last = pipeline_last_seq(f.p, "pizza");
    pubs = f.n_pubs;
    CHECK(move_order(&f, &anon, "P-3", ORDER_STATUS_ACCEPTED) == last + 1);
    CHECK(strcmp(last_ack(&f)->device, "legacy-kds-1") == 0 && last_ack(&f)->reply_id == 77);
    CHECK(f.n_pubs == pubs + 2 && f.n_pubs > pubs + 1 && json_str_is(f.pubs[pubs + 1].doc, "by", "legacy-kds-1"));
    teardown(&f);
}

static void test_receipts(void)
{
    fixture f;
    if (setup(&f, 60000) != 0) return;
    static const char r1[] = "{\"order_number\":\"R-1\",\"status\":\"accepted\"}";
    CHECK(create_order(&f, &f.pizza_pos, "R-1", 1) == 1);
    /* A receipt of a new order accepts it. */
    int pubs = f.n_pubs, acks = f.n_acks;
    receipt(&f, &f.pizza_kitchen, r1);
    CHECK(f.n_acks == acks && f.n_pubs == pubs + 2);
    CHECK(f.n_pubs > pubs && json_str_is(f.pubs[pubs].doc, "status", "accepted") && json_num(f.pubs[pubs].doc, "seq") == 2);
    settle(&f);
    CHECK(f.n_acks == acks + 1 && ack_is(last_ack(&f), KB_ACK_ACCEPTED, "R-1", 2, ORDER_STATUS_ACCEPTED));
    CHECK(journaled(&f, "pizza", "R-1", NULL, NULL) == ORDER_STATUS_ACCEPTED);
    /* Again: a duplicate with the current state, nothing published. */
    pubs = f.n_pubs;
    receipt(&f, &f.pizza_kitchen, r1);
    settle(&f);
    CHECK(f.n_acks == acks + 2 && ack_is(last_ack(&f), KB_ACK_DUPLICATE, "R-1", 2, ORDER_STATUS_ACCEPTED));
    CHECK(f.n_pubs == pubs);
    /* On a ready order: a duplicate naming ready (a plain status request would be illegal). */
    CHECK(move_order(&f, &f.pizza_kitchen, "R-1", ORDER_STATUS_PREPARING) == 3);
    CHECK(move_order(&f, &f.pizza_kitchen, "R-1", ORDER_STATUS_READY) == 4);
    pubs = f.n_pubs;
    acks = f.n_acks;
    receipt(&f, &f.pizza_kitchen, r1);
    settle(&f);
    CHECK(f.n_acks == acks + 1 && ack_is(last_ack(&f), KB_ACK_DUPLICATE, "R-1", 4, ORDER_STATUS_READY));
    CHECK(f.n_pubs == pubs && journaled(&f, "pizza", "R-1", NULL, NULL) == ORDER_STATUS_READY);
    submit(&f, &f.pizza_kitchen, r1);
    CHECK(f.n_acks == acks + 2 && rejected_with(last_ack(&f), "R-1", KB_ERR_ILLEGAL_TRANSITION));
    /* On a served order, too. */
    CHECK(move_order(&f, &f.pizza_kitchen, "R-1", ORDER_STATUS_SERVED) == 5);
    acks = f.n_acks;
    receipt(&f, &f.pizza_kitchen, r1);
    settle(&f);
    CHECK(f.n_acks == acks + 1 && ack_is(last_ack(&f), KB_ACK_DUPLICATE, "R-1", 5, ORDER_STATUS_SERVED));
    /* Of an unknown order: rejected at once. */
    receipt(&f, &f.pizza_kitchen, "{\"order_number\":\"R-404\",\"status\":\"accepted\"}");
    CHECK(f.n_acks == acks + 2 && rejected_with(last_ack(&f), "R-404", KB_ERR_UNKNOWN_ORDER));
    /* A receipt of an order still in the open batch: accepted with it. */
    char buf[512];
    acks = f.n_acks;
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "R-2", 1));
    receipt(&f, &f.pizza_kitchen, "{\"order_number\":\"R-2\",\"status\":\"accepted\"}");
    CHECK(f.n_acks == acks);
    settle(&f);
    CHECK(f.n_acks == acks + 2);
    CHECK(ack_is(ack_for(&f, "pizza-pos", "R-2"), KB_ACK_ACCEPTED, "R-2", 6, ORDER_STATUS_NEW));
    CHECK(ack_is(ack_for(&f, "pizza-kitchen", "R-2"), KB_ACK_ACCEPTED, "R-2", 7, ORDER_STATUS_ACCEPTED));
    teardown(&f);
}

/* Runs pipeline_flush with the process unable to grow any file past 4 KiB,
 * the errors a full disk gives (tests/integration/journal_failure.test.mjs
 * does it with prlimit). SQLite writes a batch's pages into the WAL only at
 * COMMIT, and even the first WAL frame (32-byte header + 24 + 4096) ends past
 * byte 4096, so the commit fails whatever the WAL held before. */
static void flush_with_full_disk(fixture *f)
{
    struct rlimit old, lim;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 4096;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    pipeline_flush(f->p);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, prev);
}

static void test_failed_commit(void)
{
    fixture f;
    if (setup(&f, 60000) != 0) return;
    char a1[512], buf[512];
    CHECK(create_order(&f, &f.pizza_pos, "F-1", 1) == 1);
    CHECK(create_order(&f, &f.burger_pos, "F-1", 1) == 1);
    order_json(a1, sizeof a1, "pizza", "F-1", 1);

    /* One batch: two creates, a move and a duplicate of a committed order, from four origins. */
    int acks = f.n_acks, pubs = f.n_pubs;
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "F-2", 1)); /* seq 2 */
    submit(&f, &f.burger_pos, order_json(buf, sizeof buf, "burger", "F-2", 1)); /* burger seq 2 */
    submit(&f, &f.pizza_kitchen, "{\"order_number\":\"F-1\",\"status\":\"accepted\"}"); /* seq 3 */
    submit(&f, &f.burger_kitchen, "{\"order_number\":\"F-1\",\"status\":\"new\"}"); /* duplicate, burger seq 1 */
    submit(&f, &f.pizza_pos, a1); /* duplicate: F-1 is in this batch now */
    CHECK(f.n_acks == acks && pipeline_acks_pending(f.p) == 5 && f.n_pubs == pubs + 6);
    CHECK(journal_has_uncommitted(f.j));
    flush_with_full_disk(&f);
    CHECK(!journal_has_uncommitted(f.j));
    CHECK(f.n_acks == acks + 5 && pipeline_acks_pending(f.p) == 0);
    int rejected = 0;
    for (int i = acks; i < f.n_acks; i++) rejected += f.acks[i].result == KB_ACK_REJECTED &&
                                                      f.acks[i].error == KB_ERR_JOURNAL_UNAVAILABLE;
    CHECK(rejected == 5);
    CHECK(rejected_with(ack_for(&f, "pizza-pos", "F-2"), "F-2", KB_ERR_JOURNAL_UNAVAILABLE));
    CHECK(rejected_with(ack_for(&f, "burger-pos", "F-2"), "F-2", KB_ERR_JOURNAL_UNAVAILABLE));
    CHECK(rejected_with(ack_for(&f, "pizza-kitchen", "F-1"), "F-1", KB_ERR_JOURNAL_UNAVAILABLE));
    CHECK(rejected_with(ack_for(&f, "pizza-pos", "F-1"), "F-1", KB_ERR_JOURNAL_UNAVAILABLE));
    const ack_rec *bk = ack_for(&f, "burger-kitchen", "F-1");
    CHECK(bk && bk->reply_id == 22 && rejected_with(bk, "F-1", KB_ERR_JOURNAL_UNAVAILABLE));
    CHECK(f.st.rejected[KB_ERR_JOURNAL_UNAVAILABLE] == 5);
    CHECK(!f.st.journal_ok && f.st.journal_failures >= 1 && f.st.journal_error[0] != '\0');
    /* Deliveries of the lost batch's states release nothing. */
    deliver_all(&f);
    pipeline_flush(f.p);
    CHECK(f.n_acks == acks + 5);
    /* The journal holds none of it. */
    int64_t seq;
    CHECK(journaled(&f, "pizza", "F-2", NULL, NULL) == ORDER_STATUS_INVALID);
    CHECK(journaled(&f, "burger", "F-2", NULL, NULL) == ORDER_STATUS_INVALID);
    CHECK(journaled(&f, "pizza", "F-1", &seq, NULL) == ORDER_STATUS_NEW && seq == 1);
    CHECK(journaled(&f, "burger", "F-1", &seq, NULL) == ORDER_STATUS_NEW && seq == 1);

    /* The journal works again: the seqs of the lost batch are never handed out again. */
    int64_t next = create_order(&f, &f.pizza_pos, "F-2", 1); /* new, not a duplicate */
    CHECK(next > 3);
    CHECK(f.st.journal_ok == 1);
    CHECK(move_order(&f, &f.pizza_kitchen, "F-1", ORDER_STATUS_ACCEPTED) > next);
    CHECK(create_order(&f, &f.burger_pos, "F-2", 1) > 2);
    submit(&f, &f.pizza_pos, a1); /* what was acked before is still there */
    settle(&f);
    CHECK(last_ack(&f) && last_ack(&f)->result == KB_ACK_DUPLICATE && last_ack(&f)->seq == 1);
    teardown(&f);
}

/* Writes an event row for `tenant` at `seq` through a connection of its own
 * (the journal's schema: events(tenant, seq, doc), primary key (tenant, seq)),
 * so that the pipeline's write of that seq fails in the middle of a batch. */
static int plant_event(const char *path, const char *tenant, int64_t seq)
{
    sqlite3 *db = NULL;
    char sql[256];
    snprintf(sql, sizeof sql, "INSERT INTO events(tenant, seq, doc) VALUES('%s', %lld, '{}')", tenant,
             (long long)seq);
    int ok = sqlite3_open(path, &db) == SQLITE_OK && sqlite3_busy_timeout(db, 2000) == SQLITE_OK &&
             sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) fprintf(stderr, "plant_event: %s\n", db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    return ok ? 0 : -1;
}

static void test_failed_write(void)
{
    fixture f;
    if (setup(&f, 60000) != 0) return;
    char buf[512];
    CHECK(create_order(&f, &f.pizza_pos, "G-1", 1) == 1);
    CHECK(pipeline_last_seq(f.p, "pizza") == 1);
    CHECK(plant_event(f.path, "pizza", 3) == 0);
    int acks = f.n_acks;
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "G-2", 1)); /* seq 2: written */
    CHECK(f.n_acks == acks && journal_has_uncommitted(f.j));
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "G-3", 1)); /* seq 3: the write fails */
    /* The whole batch is lost: both answered at once. */
    CHECK(f.n_acks == acks + 2 && pipeline_acks_pending(f.p) == 0);
    CHECK(rejected_with(ack_for(&f, "pizza-pos", "G-2"), "G-2", KB_ERR_JOURNAL_UNAVAILABLE));
    CHECK(rejected_with(ack_for(&f, "pizza-pos", "G-3"), "G-3", KB_ERR_JOURNAL_UNAVAILABLE));
    CHECK(!journal_has_uncommitted(f.j) && !f.st.journal_ok);
    settle(&f);
    CHECK(f.n_acks == acks + 2);
    CHECK(journaled(&f, "pizza", "G-2", NULL, NULL) == ORDER_STATUS_INVALID);
    CHECK(journaled(&f, "pizza", "G-3", NULL, NULL) == ORDER_STATUS_INVALID);
    CHECK(journaled(&f, "pizza", "G-1", NULL, NULL) == ORDER_STATUS_NEW);
    /* Next: a seq above the failed ones. */
    CHECK(create_order(&f, &f.pizza_pos, "G-2", 1) > 3);
    CHECK(f.st.journal_ok == 1);
    teardown(&f);
}

static void test_failing_sink(void)
{
    fixture f;
    if (setup(&f, 60000) != 0) return;
    char buf[512];
    CHECK(create_order(&f, &f.pizza_pos, "S-1", 1) == 1);
    observer_tag tag = {.f = &f, .id = 1};
    CHECK(pipeline_observe(f.p, on_change, &tag) == 0);
    int acks = f.n_acks, hooks = f.hook_calls;

    /* The state cannot go out: rejected at once, nothing journaled. */
    f.fail_state = 1;
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "S-2", 1));
    CHECK(f.refused >= 1);
    CHECK(f.n_acks == acks + 1 && rejected_with(last_ack(&f), "S-2", KB_ERR_JOURNAL_UNAVAILABLE));
    CHECK(!journal_has_uncommitted(f.j) && f.hook_calls == hooks && f.n_changes == 0);
    CHECK(journaled(&f, "pizza", "S-2", NULL, NULL) == ORDER_STATUS_INVALID);
    submit(&f, &f.pizza_kitchen, "{\"order_number\":\"S-1\",\"status\":\"accepted\"}");
    CHECK(f.n_acks == acks + 2 && rejected_with(last_ack(&f), "S-1", KB_ERR_JOURNAL_UNAVAILABLE));
    CHECK(journaled(&f, "pizza", "S-1", NULL, NULL) == ORDER_STATUS_NEW);
    f.fail_state = 0;

    /* The event cannot go out: the same. */
    f.fail_event = 1;
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "S-3", 1));
    CHECK(f.n_acks == acks + 3 && rejected_with(last_ack(&f), "S-3", KB_ERR_JOURNAL_UNAVAILABLE));
    submit(&f, &f.pizza_pos, "{\"order_number\":\"S-1\",\"action\":\"cancel\"}"); /* a close: event first */
    CHECK(f.n_acks == acks + 4 && rejected_with(last_ack(&f), "S-1", KB_ERR_JOURNAL_UNAVAILABLE));
    CHECK(!journal_has_uncommitted(f.j) && f.hook_calls == hooks && f.n_changes == 0);
    f.fail_event = 0;
    settle(&f);
    CHECK(f.n_acks == acks + 4);
    CHECK(journaled(&f, "pizza", "S-3", NULL, NULL) == ORDER_STATUS_INVALID);
    CHECK(journaled(&f, "pizza", "S-1", NULL, NULL) == ORDER_STATUS_NEW);
    CHECK(f.st.rejected[KB_ERR_JOURNAL_UNAVAILABLE] == 4);

    /* The sink works again: the same order is new, not a duplicate. */
    int64_t seq = create_order(&f, &f.pizza_pos, "S-2", 1);
    CHECK(seq > 1);
    CHECK(move_order(&f, &f.pizza_kitchen, "S-1", ORDER_STATUS_ACCEPTED) > seq);
    teardown(&f);
}

static void test_hook_and_observers(void)
{
    fixture f;
    if (setup(&f, 60000) != 0) return;
    char buf[512];
    for (int i = 0; i <= PIPELINE_OBSERVERS_MAX; i++) f.tags[i] = (observer_tag){.f = &f, .id = i + 1};
    for (int i = 0; i < PIPELINE_OBSERVERS_MAX; i++) CHECK(pipeline_observe(f.p, on_change, &f.tags[i]) == 0);
    CHECK(pipeline_observe(f.p, on_change, &f.tags[PIPELINE_OBSERVERS_MAX]) == -1);

    CHECK(f.hook_calls == 0);
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "H-1", 1));
    CHECK(f.hook_calls == 1);
    /* Observers see it when the sink does, before the commit. */
    CHECK(f.n_changes == PIPELINE_OBSERVERS_MAX);
    for (int i = 0; i < f.n_changes; i++) {
        CHECK(f.changes[i].observer == i + 1 && f.changes[i].created == 1 && strcmp(f.changes[i].tenant, "pizza") == 0);
        CHECK(json_str_is(f.changes[i].doc, "status", "new") && json_num(f.changes[i].doc, "seq") == 1 &&
              json_str_is(f.changes[i].doc, "order_number", "H-1"));
    }
    settle(&f);
    CHECK(f.hook_calls == 1 && f.n_changes == PIPELINE_OBSERVERS_MAX);

    /* A duplicate changes nothing and is not observed; its ack is held, so it
     * is either given at once or the loop's owner is asked to flush. */
    int hooks = f.hook_calls, acks = f.n_acks;
    submit(&f, &f.pizza_pos, buf);
    CHECK(f.hook_calls - hooks <= 1);
    CHECK(f.n_acks == acks + 1 || f.hook_calls == hooks + 1);
    settle(&f);
    CHECK(f.n_acks == acks + 1 && ack_is(last_ack(&f), KB_ACK_DUPLICATE, "H-1", 1, ORDER_STATUS_NEW));
    CHECK(f.n_changes == PIPELINE_OBSERVERS_MAX);

    /* Rejections, with nothing held or open: no call, nothing observed. */
    hooks = f.hook_calls;
    submit(&f, &f.pizza_kitchen, "{\"order_number\":\"H-1\",\"status\":\"ready\"}"); /* illegal */
    submit(&f, &f.pizza_kitchen, "{\"order_number\":\"H-404\",\"status\":\"ready\"}");
    submit(&f, &f.burger_kitchen, "{\"order_number\":\"H-1\",\"status\":\"accepted\"}"); /* burger has none */
    submit(&f, &f.pizza_pos, "nope");
    CHECK(f.hook_calls == hooks && f.n_changes == PIPELINE_OBSERVERS_MAX);

    /* A move: one call, observed with created 0. */
    int n = f.n_changes;
    submit(&f, &f.pizza_kitchen, "{\"order_number\":\"H-1\",\"status\":\"accepted\"}");
    CHECK(f.hook_calls == hooks + 1 && f.n_changes == n + PIPELINE_OBSERVERS_MAX);
    CHECK(f.n_changes > n && f.changes[n].created == 0 && json_str_is(f.changes[n].doc, "status", "accepted") &&
          json_num(f.changes[n].doc, "seq") == 2 && json_num(f.changes[n].doc, "created_seq") == 1);
    settle(&f);
    /* A close is observed with the order as it closed. */
    CHECK(move_order(&f, &f.pizza_kitchen, "H-1", ORDER_STATUS_CANCELLED) == 3);
    CHECK(f.hook_calls == hooks + 2 && f.n_changes == n + 2 * PIPELINE_OBSERVERS_MAX);
    n = f.n_changes - PIPELINE_OBSERVERS_MAX;
    CHECK(n >= 0 && f.changes[n].created == 0 && json_str_is(f.changes[n].doc, "status", "cancelled") &&
          json_num(f.changes[n].doc, "seq") == 3);
    /* Another tenant's new order. */
    CHECK(create_order(&f, &f.burger_pos, "H-1", 1) == 1);
    CHECK(f.hook_calls == hooks + 3);
    n = f.n_changes - PIPELINE_OBSERVERS_MAX;
    CHECK(n >= 0 && f.changes[n].created == 1 && strcmp(f.changes[n].tenant, "burger") == 0);
    /* A new instance of a used number is created, too. */
    CHECK(create_order(&f, &f.pizza_pos, "H-1", 5) == 4);
    n = f.n_changes - PIPELINE_OBSERVERS_MAX;
    CHECK(n >= 0 && f.changes[n].created == 1 && json_num(f.changes[n].doc, "created_seq") == 4);
    CHECK(f.hook_calls == hooks + 4);
    /* Two changes before one flush: each request leaves the batch open, one call each. */
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "H-2", 1));
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "H-3", 1));
    CHECK(f.hook_calls == hooks + 6);
    settle(&f);
    CHECK(journal_has_uncommitted(f.j) == 0 && f.hook_calls == hooks + 6);
    /* Nothing observed for a change that could not go out. */
    n = f.n_changes;
    f.fail_state = 1;
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "H-4", 1));
    f.fail_state = 0;
    CHECK(f.n_changes == n && f.hook_calls == hooks + 6);
    teardown(&f);
}

static void test_reconcile_and_republish(void)
{
    fixture f;
    if (setup(&f, 60000) != 0) return;
    CHECK(create_order(&f, &f.pizza_pos, "C-1", 1) == 1);
    CHECK(create_order(&f, &f.pizza_pos, "C-2", 1) == 2);
    CHECK(move_order(&f, &f.pizza_kitchen, "C-2", ORDER_STATUS_ACCEPTED) == 3);
    CHECK(create_order(&f, &f.pizza_pos, "C-3", 1) == 4);
    CHECK(move_order(&f, &f.pizza_pos, "C-3", ORDER_STATUS_CANCELLED) == 5);
    CHECK(create_order(&f, &f.burger_pos, "C-1", 1) == 1);
    int acks = f.n_acks, hooks = f.hook_calls, pubs = f.n_pubs;
    char *c2 = journaled_doc(&f, "pizza", "C-2");
    CHECK(c2 && json_num(c2, "seq") == 3);
    const int reconciled_from = pubs;

    /* Unknown: cleared, nobody waiting. */
    static const char ghost[] = "{\"order_number\":\"GHOST\",\"seq\":9}";
    pipeline_reconcile(f.p, "pizza", "GHOST", ghost, strlen(ghost));
    CHECK(f.n_pubs == pubs + 1);
    if (f.n_pubs == pubs + 1) {
        const pub_rec *r = &f.pubs[pubs];
        CHECK(r->kind == 'S' && strcmp(r->tenant, "pizza") == 0 && strcmp(r->number, "GHOST") == 0 &&
              r->doc == NULL && !r->waited && r->token == 0);
    }
    /* Closed: cleared. */
    pubs = f.n_pubs;
    static const char c3_held[] = "{\"order_number\":\"C-3\",\"status\":\"new\",\"seq\":4,\"created_seq\":4}";
    pipeline_reconcile(f.p, "pizza", "C-3", c3_held, strlen(c3_held));
    CHECK(f.n_pubs == pubs + 1 && f.n_pubs > pubs && f.pubs[pubs].kind == 'S' && f.pubs[pubs].doc == NULL &&
          strcmp(f.pubs[pubs].number, "C-3") == 0 && !f.pubs[pubs].waited);
    /* Open, an older seq: the journal's state again. */
    pubs = f.n_pubs;
    static const char c2_old[] = "{\"order_number\":\"C-2\",\"status\":\"new\",\"seq\":2,\"created_seq\":2}";
    pipeline_reconcile(f.p, "pizza", "C-2", c2_old, strlen(c2_old));
    CHECK(f.n_pubs == pubs + 1 && f.n_pubs > pubs && f.pubs[pubs].kind == 'S' && f.pubs[pubs].doc && c2 &&
          strcmp(f.pubs[pubs].doc, c2) == 0 && strcmp(f.pubs[pubs].number, "C-2") == 0 && !f.pubs[pubs].waited);
    /* Open, the current seq: nothing to do. */
    pubs = f.n_pubs;
    if (c2) pipeline_reconcile(f.p, "pizza", "C-2", c2, strlen(c2));
    static const char c1_now[] = "{\"order_number\":\"C-1\",\"status\":\"new\",\"seq\":1,\"created_seq\":1}";
    pipeline_reconcile(f.p, "pizza", "C-1", c1_now, strlen(c1_now));
    pipeline_reconcile(f.p, "burger", "C-1", c1_now, strlen(c1_now));
    /* An empty retained message is no state. */
    pipeline_reconcile(f.p, "pizza", "GHOST", "", 0);
    CHECK(f.n_pubs == pubs);
    /* Another tenant's: the other tenant's journal decides. */
    pipeline_reconcile(f.p, "burger", "C-2", c2_old, strlen(c2_old));
    CHECK(f.n_pubs == pubs + 1 && f.n_pubs > pubs && strcmp(f.pubs[pubs].tenant, "burger") == 0 &&
          f.pubs[pubs].doc == NULL);
    /* A state that is no JSON: the journal's state again. */
    pubs = f.n_pubs;
    pipeline_reconcile(f.p, "pizza", "C-1", "not json", 8);
    char *c1 = journaled_doc(&f, "pizza", "C-1");
    CHECK(f.n_pubs == pubs + 1 && f.n_pubs > pubs && f.pubs[pubs].doc && c1 && strcmp(f.pubs[pubs].doc, c1) == 0);
    free(c1);
    CHECK(f.n_acks == acks && f.hook_calls == hooks && !journal_has_uncommitted(f.j));
    for (int i = reconciled_from; i < f.n_pubs; i++) CHECK(f.pubs[i].kind == 'S'); /* no events */

    /* Every open order, from the journal. */
    pubs = f.n_pubs;
    pipeline_republish_open(f.p);
    CHECK(f.n_pubs == pubs + 3);
    int seen_c1 = 0, seen_c2 = 0, seen_b1 = 0;
    for (int i = pubs; i < f.n_pubs; i++) {
        const pub_rec *r = &f.pubs[i];
        CHECK(r->kind == 'S' && r->doc && !r->waited && r->token == 0);
        char *want = journaled_doc(&f, r->tenant, r->number);
        CHECK(want && r->doc && strcmp(want, r->doc) == 0);
        free(want);
        seen_c1 += strcmp(r->tenant, "pizza") == 0 && strcmp(r->number, "C-1") == 0;
        seen_c2 += strcmp(r->tenant, "pizza") == 0 && strcmp(r->number, "C-2") == 0;
        seen_b1 += strcmp(r->tenant, "burger") == 0 && strcmp(r->number, "C-1") == 0;
    }
    CHECK(seen_c1 == 1 && seen_c2 == 1 && seen_b1 == 1);
    CHECK(f.n_acks == acks && f.hook_calls == hooks);
    free(c2);
    teardown(&f);
}

static void test_free_commits(void)
{
    fixture f;
    if (setup(&f, 60000) != 0) return;
    char buf[512];
    /* One ack that the commit alone releases, one that waits for a delivery. */
    f.give_tokens = 0;
    submit(&f, &f.pizza_pos, order_json(buf, sizeof buf, "pizza", "E-1", 1));
    f.give_tokens = 1;
    submit(&f, &f.burger_pos, order_json(buf, sizeof buf, "burger", "E-1", 1));
    CHECK(f.n_acks == 0 && pipeline_acks_pending(f.p) == 2);
    pipeline_free(f.p);
    f.p = NULL;
    CHECK(!journal_has_uncommitted(f.j));
    CHECK(journaled(&f, "pizza", "E-1", NULL, NULL) == ORDER_STATUS_NEW);
    CHECK(journaled(&f, "burger", "E-1", NULL, NULL) == ORDER_STATUS_NEW);
    CHECK(ack_is(ack_for(&f, "pizza-pos", "E-1"), KB_ACK_ACCEPTED, "E-1", 1, ORDER_STATUS_NEW));
    const ack_rec *b = ack_for(&f, "burger-pos", "E-1");
    CHECK(!b || b->result != KB_ACK_ACCEPTED); /* never acked before its delivery */
    teardown(&f);

    /* A new pipeline on the same journal carries on from its seqs. */
    fixture g;
    if (setup(&g, 60000) != 0) return;
    CHECK(create_order(&g, &g.pizza_pos, "E-1", 1) == 1);
    journal *j = g.j;
    pipeline_free(g.p);
    g.p = pipeline_new(j, &g.st, &g.reg, 60000);
    CHECK(g.p != NULL);
    if (!g.p) {
        teardown(&g);
        return;
    }
    pipeline_set_sink(g.p, &g.sink);
    pipeline_set_commit_hook(g.p, on_commit_soon, &g);
    CHECK(pipeline_last_seq(g.p, "pizza") == 1);
    CHECK(create_order(&g, &g.pizza_pos, "E-2", 1) == 2);
    teardown(&g);
}

/* ---- stations (issue 14) ------------------------------------------------ */

static const char stations_json[] =
    "{\"outlet\":{\"id\":\"test\"},\"tenants\":["
    "{\"id\":\"pizza\",\"name\":\"Pizza Paradise\",\"stations\":[\"oven\",\"cold\",\"bar\"],\"devices\":["
    "{\"username\":\"pizza-pos\",\"role\":\"pos\"},{\"username\":\"pizza-kitchen\",\"role\":\"kitchen\"},"
    "{\"username\":\"pizza-oven\",\"role\":\"kitchen\",\"station\":\"oven\"},"
    "{\"username\":\"pizza-cold\",\"role\":\"kitchen\",\"station\":\"cold\"},"
    "{\"username\":\"pizza-bar\",\"role\":\"kitchen\",\"station\":\"bar\"},"
    "{\"username\":\"pizza-expo\",\"role\":\"expo\"}]},"
    "{\"id\":\"burger\",\"devices\":["
    "{\"username\":\"burger-pos\",\"role\":\"pos\"},{\"username\":\"burger-kitchen\",\"role\":\"kitchen\"}]}],"
    "\"boards\":[{\"username\":\"court-board\",\"tenants\":\"*\"}]}";

/* Pizza at the oven, beer at the bar, garlic bread with no station (the
 * tenant's first: the oven). */
static const char *oven_bar_json(char *buf, size_t len, const char *number)
{
    snprintf(buf, len,
             "{\"order_number\":\"%s\",\"tenant_id\":\"pizza\",\"items\":["
             "{\"name\":\"Margherita\",\"qty\":1,\"station\":\"oven\"},{\"name\":\"Beer\",\"qty\":2,\"station\":\"bar\"},"
             "{\"name\":\"Garlic bread\",\"qty\":1}],\"table\":\"4\"}",
             number);
    return buf;
}

/* A station's report; station NULL: a whole-order status. */
static const char *report_json(char *buf, size_t len, const char *number, const char *station, order_status s)
{
    if (station)
        snprintf(buf, len, "{\"order_number\":\"%s\",\"station\":\"%s\",\"status\":\"%s\"}", number, station,
                 order_status_name(s));
    else snprintf(buf, len, "{\"order_number\":\"%s\",\"status\":\"%s\"}", number, order_status_name(s));
    return buf;
}

/* Submits and settles: the request's one ack, NULL if it got none or several. */
static const ack_rec *send_settled(fixture *f, const kb_origin *o, const char *json)
{
    int n0 = f->n_acks;
    submit(f, o, json);
    settle(f);
    return f->n_acks == n0 + 1 ? last_ack(f) : NULL;
}

static const ack_rec *report(fixture *f, const kb_origin *o, const char *number, const char *station, order_status s)
{
    char buf[256];
    return send_settled(f, o, report_json(buf, sizeof buf, number, station, s));
}

/* The part of `station` in an order doc is `want` (NULL: it has none). */
static int part_is(const char *doc, const char *station, const char *want)
{
    cJSON *v = doc ? cJSON_Parse(doc) : NULL;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(v, "stations"), station);
    int ok = v && (want ? cJSON_IsString(s) && strcmp(s->valuestring, want) == 0 : s == NULL);
    cJSON_Delete(v);
    return ok;
}

static int n_parts(const char *doc)
{
    cJSON *v = doc ? cJSON_Parse(doc) : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "stations");
    int n = cJSON_IsObject(m) ? cJSON_GetArraySize(m) : -1;
    cJSON_Delete(v);
    return n;
}

/* The journal's doc of an order has these parts and status. */
static int journaled_parts(fixture *f, const char *number, order_status st, const char *oven, const char *cold,
                           const char *bar)
{
    char *doc = journaled_doc(f, "pizza", number);
    int ok = doc && json_str_is(doc, "status", order_status_name(st)) && part_is(doc, "oven", oven) &&
             part_is(doc, "cold", cold) && part_is(doc, "bar", bar);
    if (!ok) fprintf(stderr, "journaled %s: %s\n", number, doc ? doc : "(none)");
    free(doc);
    return ok;
}

/* Since pubs[before]: exactly a state then its event (a change that
 * stays open), the state's doc and the event's in *state and *event. */
static int one_change(const fixture *f, int before, const char **state, const char **event)
{
    *state = *event = NULL;
    if (f->n_pubs != before + 2 || f->pubs[before].kind != 'S' || f->pubs[before + 1].kind != 'E') return 0;
    *state = f->pubs[before].doc;
    *event = f->pubs[before + 1].doc;
    return *state && *event;
}

static void test_stations(void)
{
    fixture f;
    if (setup_registry(&f, 60000, stations_json) != 0) return;
    char buf[1024];
    const char *state, *event;
    kb_origin oven, cold, bar, expo;
    CHECK(make_origin(&f, &oven, "pizza", "pizza-oven", 31) == 0 && strcmp(oven.station, "oven") == 0);
    CHECK(make_origin(&f, &cold, "pizza", "pizza-cold", 32) == 0 && strcmp(cold.station, "cold") == 0);
    CHECK(make_origin(&f, &bar, "pizza", "pizza-bar", 33) == 0 && strcmp(bar.station, "bar") == 0);
    CHECK(make_origin(&f, &expo, "pizza", "pizza-expo", 34) == 0 && expo.role == DEVICE_EXPO && expo.station[0] == '\0');
    CHECK(f.pizza_kitchen.station[0] == '\0' && f.pizza_pos.station[0] == '\0' && f.burger_kitchen.station[0] == '\0');
    kb_origin o;
    CHECK(pipeline_origin(f.p, "pizza", "court-board", &o) == -1); /* a board sends nothing */
    CHECK(pipeline_origin(f.p, "burger", "pizza-oven", &o) == -1);
    for (int i = 0; i < PIPELINE_OBSERVERS_MAX; i++) f.tags[i] = (observer_tag){.f = &f, .id = i + 1};
    CHECK(pipeline_observe(f.p, on_change, &f.tags[0]) == 0);

    /* Routing: the parts of the stations that have items, every one new;
     * the items as the POS sent them. */
    int before = f.n_pubs;
    const ack_rec *a = send_settled(&f, &f.pizza_pos, oven_bar_json(buf, sizeof buf, "S-1"));
    CHECK(ack_is(a, KB_ACK_ACCEPTED, "S-1", 1, ORDER_STATUS_NEW));
    CHECK(one_change(&f, before, &state, &event));
    CHECK(part_is(state, "oven", "new") && part_is(state, "bar", "new") && part_is(state, "cold", NULL) &&
          n_parts(state) == 2);
    cJSON *doc = state ? cJSON_Parse(state) : NULL;
    const cJSON *third = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "items"), 2);
    CHECK(third && !cJSON_GetObjectItemCaseSensitive(third, "station"));
    cJSON_Delete(doc);
    CHECK(journaled_parts(&f, "S-1", ORDER_STATUS_NEW, "new", NULL, "new"));
    /* Only the cold station. */
    a = send_settled(&f, &f.pizza_pos,
                     "{\"order_number\":\"S-2\",\"tenant_id\":\"pizza\",\"items\":[{\"name\":\"Salad\",\"qty\":1,"
                     "\"station\":\"cold\"}]}");
    CHECK(ack_is(a, KB_ACK_ACCEPTED, "S-2", 2, ORDER_STATUS_NEW));
    CHECK(journaled_parts(&f, "S-2", ORDER_STATUS_NEW, NULL, "new", NULL));
    /* An item at a station the tenant does not have: invalid_field, nothing
     * published or journaled, no seq used. */
    before = f.n_pubs;
    uint64_t rejected = f.st.rejected[KB_ERR_INVALID_FIELD];
    a = send_settled(&f, &f.pizza_pos,
                     "{\"order_number\":\"S-3\",\"tenant_id\":\"pizza\",\"items\":[{\"name\":\"Pie\",\"qty\":1},"
                     "{\"name\":\"Steak\",\"qty\":1,\"station\":\"grill\"}]}");
    CHECK(rejected_with(a, "S-3", KB_ERR_INVALID_FIELD) &&
          strcmp(a->detail, "items[1].station must be one of the tenant's stations") == 0);
    CHECK(f.n_pubs == before && journaled(&f, "pizza", "S-3", NULL, NULL) == ORDER_STATUS_INVALID);
    CHECK(f.st.rejected[KB_ERR_INVALID_FIELD] == rejected + 1 && pipeline_last_seq(f.p, "pizza") == 2);
    a = send_settled(&f, &f.pizza_pos,
                     "{\"order_number\":\"S-3\",\"tenant_id\":\"pizza\",\"items\":[{\"name\":\"Pie\",\"qty\":1,"
                     "\"station\":\"Oven\"}]}");
    CHECK(rejected_with(a, "S-3", KB_ERR_INVALID_FIELD));
    /* A tenant without stations: free-text stations, no parts. */
    before = f.n_pubs;
    a = send_settled(&f, &f.burger_pos,
                     "{\"order_number\":\"B-1\",\"tenant_id\":\"burger\",\"items\":[{\"name\":\"Burger\",\"qty\":1,"
                     "\"station\":\"grill\"}]}");
    CHECK(ack_is(a, KB_ACK_ACCEPTED, "B-1", 1, ORDER_STATUS_NEW));
    CHECK(one_change(&f, before, &state, &event) && !json_has(state, "stations"));

    /* The oven starts: its part, and the order, preparing; one change. */
    before = f.n_pubs;
    int changes = f.n_changes;
    a = report(&f, &oven, "S-1", "oven", ORDER_STATUS_PREPARING);
    CHECK(ack_is(a, KB_ACK_ACCEPTED, "S-1", 3, ORDER_STATUS_PREPARING) && strcmp(a->device, "pizza-oven") == 0);
    CHECK(one_change(&f, before, &state, &event) && f.n_changes == changes + 1);
    CHECK(json_str_is(state, "status", "preparing") && json_num(state, "seq") == 3 && json_num(state, "created_seq") == 1);
    CHECK(part_is(state, "oven", "preparing") && part_is(state, "bar", "new"));
    CHECK(json_str_is(event, "event", "status") && json_str_is(event, "status", "preparing") &&
          json_str_is(event, "previous", "new") && json_str_is(event, "station", "oven") &&
          json_str_is(event, "station_status", "preparing") && json_num(event, "seq") == 3 &&
          json_str_is(event, "by", "pizza-oven"));
    CHECK(journaled_parts(&f, "S-1", ORDER_STATUS_PREPARING, "preparing", NULL, "new"));
    /* The same report again: a duplicate with the order as it is. */
    before = f.n_pubs;
    uint64_t dups = f.st.duplicates;
    a = report(&f, &oven, "S-1", "oven", ORDER_STATUS_PREPARING);
    CHECK(ack_is(a, KB_ACK_DUPLICATE, "S-1", 3, ORDER_STATUS_PREPARING) && f.n_pubs == before);
    CHECK(f.st.duplicates == dups + 1 && f.n_changes == changes + 1);
    /* The oven ready: the order stays preparing; a "station" event. */
    a = report(&f, &oven, "S-1", "oven", ORDER_STATUS_READY);
    CHECK(ack_is(a, KB_ACK_ACCEPTED, "S-1", 4, ORDER_STATUS_PREPARING));
    CHECK(one_change(&f, before, &state, &event));
    CHECK(part_is(state, "oven", "ready") && part_is(state, "bar", "new") && json_str_is(state, "status", "preparing"));
    CHECK(json_str_is(event, "event", "station") && json_str_is(event, "status", "preparing") &&
          !json_has(event, "previous") && json_str_is(event, "station", "oven") &&
          json_str_is(event, "station_status", "ready") && json_num(event, "seq") == 4);

    /* A station screen reporting another station's part: wrong_station. */
    before = f.n_pubs;
    a = report(&f, &oven, "S-1", "bar", ORDER_STATUS_READY);
    CHECK(rejected_with(a, "S-1", KB_ERR_WRONG_STATION) && strstr(a->detail, "oven"));
    CHECK(f.n_pubs == before && journaled_parts(&f, "S-1", ORDER_STATUS_PREPARING, "ready", NULL, "new"));
    /* ...even of an order it has no part in, or no order at all. */
    CHECK(rejected_with(report(&f, &cold, "S-1", "bar", ORDER_STATUS_READY), "S-1", KB_ERR_WRONG_STATION));
    CHECK(rejected_with(report(&f, &cold, "S-404", "oven", ORDER_STATUS_READY), "S-404", KB_ERR_WRONG_STATION));
    /* A station the order has no part for: unknown_station, whoever asks. */
    a = report(&f, &cold, "S-1", "cold", ORDER_STATUS_PREPARING);
    CHECK(rejected_with(a, "S-1", KB_ERR_UNKNOWN_STATION));
    CHECK(rejected_with(report(&f, &f.pizza_kitchen, "S-1", "cold", ORDER_STATUS_READY), "S-1", KB_ERR_UNKNOWN_STATION));
    CHECK(rejected_with(report(&f, &f.pizza_kitchen, "S-1", "grill", ORDER_STATUS_READY), "S-1", KB_ERR_UNKNOWN_STATION));
    CHECK(rejected_with(report(&f, &f.burger_kitchen, "B-1", "grill", ORDER_STATUS_READY), "B-1", KB_ERR_UNKNOWN_STATION));
    CHECK(rejected_with(report(&f, &oven, "S-404", "oven", ORDER_STATUS_READY), "S-404", KB_ERR_UNKNOWN_ORDER));
    /* An invalid station report never reaches the order. */
    CHECK(rejected_with(send_settled(&f, &oven, "{\"order_number\":\"S-1\",\"station\":\"oven\",\"status\":\"served\"}"),
                        "S-1", KB_ERR_INVALID_FIELD));
    CHECK(rejected_with(send_settled(&f, &oven, "{\"order_number\":\"S-1\",\"station\":\"Oven\",\"status\":\"ready\"}"),
                        "S-1", KB_ERR_INVALID_FIELD));
    CHECK(f.n_pubs == before && journaled_parts(&f, "S-1", ORDER_STATUS_PREPARING, "ready", NULL, "new"));

    /* A bound kitchen's whole-order status is its part's. */
    a = report(&f, &bar, "S-1", NULL, ORDER_STATUS_PREPARING);
    CHECK(ack_is(a, KB_ACK_ACCEPTED, "S-1", 5, ORDER_STATUS_PREPARING));
    CHECK(one_change(&f, before, &state, &event) && part_is(state, "bar", "preparing") && part_is(state, "oven", "ready"));
    CHECK(json_str_is(event, "event", "station") && json_str_is(event, "station", "bar"));
    /* The last part ready: the order ready, in one change with one event. */
    before = f.n_pubs;
    changes = f.n_changes;
    a = report(&f, &bar, "S-1", NULL, ORDER_STATUS_READY);
    CHECK(ack_is(a, KB_ACK_ACCEPTED, "S-1", 6, ORDER_STATUS_READY));
    CHECK(one_change(&f, before, &state, &event) && f.n_changes == changes + 1);
    CHECK(json_str_is(state, "status", "ready") && json_num(state, "seq") == 6 && part_is(state, "oven", "ready") &&
          part_is(state, "bar", "ready"));
    CHECK(json_str_is(event, "event", "status") && json_str_is(event, "status", "ready") &&
          json_str_is(event, "previous", "preparing") && json_str_is(event, "station", "bar") &&
          json_str_is(event, "station_status", "ready") && json_num(event, "seq") == 6 &&
          json_str_is(event, "by", "pizza-bar"));
    CHECK(f.n_changes == changes + 1 && json_str_is(f.changes[changes].doc, "status", "ready"));
    int64_t seq;
    CHECK(journaled(&f, "pizza", "S-1", &seq, NULL) == ORDER_STATUS_READY && seq == 6);
    CHECK(pipeline_last_seq(f.p, "pizza") == 6);

    /* Recall: the oven's part back to preparing, and the order with it. */
    before = f.n_pubs;
    a = report(&f, &oven, "S-1", "oven", ORDER_STATUS_PREPARING);
    CHECK(ack_is(a, KB_ACK_ACCEPTED, "S-1", 7, ORDER_STATUS_PREPARING));
    CHECK(one_change(&f, before, &state, &event) && part_is(state, "oven", "preparing") && part_is(state, "bar", "ready"));
    CHECK(json_str_is(event, "event", "status") && json_str_is(event, "previous", "ready") &&
          json_str_is(event, "status", "preparing") && json_str_is(event, "station_status", "preparing"));
    /* A part already ready reported ready while the order is not: a duplicate. */
    a = report(&f, &bar, "S-1", "bar", ORDER_STATUS_READY);
    CHECK(ack_is(a, KB_ACK_DUPLICATE, "S-1", 7, ORDER_STATUS_PREPARING));
    a = report(&f, &oven, "S-1", NULL, ORDER_STATUS_READY);
    CHECK(ack_is(a, KB_ACK_ACCEPTED, "S-1", 8, ORDER_STATUS_READY));
    /* A station screen closes nothing: served and cancelled are the expo's or the POS's. */
    before = f.n_pubs;
    CHECK(rejected_with(report(&f, &oven, "S-1", NULL, ORDER_STATUS_SERVED), "S-1", KB_ERR_WRONG_STATION));
    CHECK(rejected_with(report(&f, &bar, "S-1", NULL, ORDER_STATUS_CANCELLED), "S-1", KB_ERR_WRONG_STATION));
    CHECK(rejected_with(report(&f, &bar, "S-1", NULL, ORDER_STATUS_NEW), "S-1", KB_ERR_WRONG_STATION));
    CHECK(f.n_pubs == before && journaled(&f, "pizza", "S-1", NULL, NULL) == ORDER_STATUS_READY);
    /* The expo serves it: closed as ever (event first, the state cleared). */
    a = report(&f, &expo, "S-1", NULL, ORDER_STATUS_SERVED);
    CHECK(ack_is(a, KB_ACK_ACCEPTED, "S-1", 9, ORDER_STATUS_SERVED) && a->role == DEVICE_EXPO);
    CHECK(f.n_pubs == before + 2 && f.pubs[before].kind == 'E' && json_str_is(f.pubs[before].doc, "event", "closed") &&
          f.pubs[before + 1].kind == 'S' && f.pubs[before + 1].doc == NULL);
    CHECK(journaled(&f, "pizza", "S-1", NULL, NULL) == ORDER_STATUS_SERVED);
    CHECK(rejected_with(report(&f, &oven, "S-1", "oven", ORDER_STATUS_PREPARING), "S-1", KB_ERR_ORDER_CLOSED));
    CHECK(rejected_with(report(&f, &f.pizza_kitchen, "S-1", "bar", ORDER_STATUS_PREPARING), "S-1", KB_ERR_ORDER_CLOSED));

    /* One part only: ready from new is the order ready at once. */
    before = f.n_pubs;
    a = report(&f, &cold, "S-2", "cold", ORDER_STATUS_READY);
    CHECK(ack_is(a, KB_ACK_ACCEPTED, "S-2", 10, ORDER_STATUS_READY));
    CHECK(one_change(&f, before, &state, &event) && json_str_is(event, "previous", "new") &&
          json_str_is(event, "event", "status"));
    CHECK(journaled_parts(&f, "S-2", ORDER_STATUS_READY, NULL, "ready", NULL));
    /* The expo may cancel, and report any station's part. */
    a = report(&f, &expo, "S-2", NULL, ORDER_STATUS_CANCELLED);
    CHECK(ack_is(a, KB_ACK_ACCEPTED, "S-2", 11, ORDER_STATUS_CANCELLED));

    /* A whole-order kitchen: accepted and preparing leave the parts; ready
     * marks every part ready; a recall marks every part preparing. */
    CHECK(create_order(&f, &f.pizza_pos, "S-4", 1) == 12); /* one item, no station: the oven */
    CHECK(journaled_parts(&f, "S-4", ORDER_STATUS_NEW, "new", NULL, NULL));
    CHECK(send_settled(&f, &f.pizza_pos, oven_bar_json(buf, sizeof buf, "S-5")) != NULL);
    CHECK(move_order(&f, &f.pizza_kitchen, "S-5", ORDER_STATUS_ACCEPTED) == 14);
    CHECK(journaled_parts(&f, "S-5", ORDER_STATUS_ACCEPTED, "new", NULL, "new"));
    CHECK(move_order(&f, &f.pizza_kitchen, "S-5", ORDER_STATUS_PREPARING) == 15);
    CHECK(journaled_parts(&f, "S-5", ORDER_STATUS_PREPARING, "new", NULL, "new"));
    CHECK(report(&f, &bar, "S-5", "bar", ORDER_STATUS_PREPARING) != NULL);
    before = f.n_pubs;
    CHECK(move_order(&f, &f.pizza_kitchen, "S-5", ORDER_STATUS_READY) == 17);
    CHECK(one_change(&f, before, &state, &event) && part_is(state, "oven", "ready") && part_is(state, "bar", "ready"));
    CHECK(json_str_is(event, "event", "status") && !json_has(event, "station"));
    CHECK(journaled_parts(&f, "S-5", ORDER_STATUS_READY, "ready", NULL, "ready"));
    /* Every part ready already: a station's ready is a duplicate. */
    CHECK(ack_is(report(&f, &oven, "S-5", "oven", ORDER_STATUS_READY), KB_ACK_DUPLICATE, "S-5", 17, ORDER_STATUS_READY));
    CHECK(move_order(&f, &expo, "S-5", ORDER_STATUS_PREPARING) == 18);
    CHECK(journaled_parts(&f, "S-5", ORDER_STATUS_PREPARING, "preparing", NULL, "preparing"));
    /* From there the stations finish it again. */
    CHECK(ack_is(report(&f, &oven, "S-5", "oven", ORDER_STATUS_READY), KB_ACK_ACCEPTED, "S-5", 19, ORDER_STATUS_PREPARING));
    CHECK(ack_is(report(&f, &f.pizza_kitchen, "S-5", "bar", ORDER_STATUS_READY), KB_ACK_ACCEPTED, "S-5", 20,
                 ORDER_STATUS_READY));
    /* Served by a whole-order kitchen. */
    CHECK(move_order(&f, &f.pizza_kitchen, "S-5", ORDER_STATUS_SERVED) == 21);
    /* A bound kitchen's accepted (a legacy kitchen's receipt too) is the whole order's. */
    before = f.n_pubs;
    char rb[256];
    int n0 = f.n_acks;
    receipt(&f, &oven, status_json(rb, sizeof rb, &oven, "S-4", ORDER_STATUS_ACCEPTED));
    settle(&f);
    CHECK(f.n_acks == n0 + 1 && ack_is(last_ack(&f), KB_ACK_ACCEPTED, "S-4", 22, ORDER_STATUS_ACCEPTED));
    CHECK(one_change(&f, before, &state, &event) && json_str_is(event, "event", "status") && part_is(state, "oven", "new"));
    CHECK(ack_is(report(&f, &cold, "S-4", NULL, ORDER_STATUS_ACCEPTED), KB_ACK_DUPLICATE, "S-4", 22, ORDER_STATUS_ACCEPTED));
    /* ...and its whole-order ready the oven's part: the only one, so the order. */
    CHECK(ack_is(report(&f, &oven, "S-4", NULL, ORDER_STATUS_READY), KB_ACK_ACCEPTED, "S-4", 23, ORDER_STATUS_READY));
    /* Another station's screen asking the same has no part there. */
    CHECK(rejected_with(report(&f, &bar, "S-4", NULL, ORDER_STATUS_READY), "S-4", KB_ERR_UNKNOWN_STATION));
    CHECK(journaled_parts(&f, "S-4", ORDER_STATUS_READY, "ready", NULL, NULL));
    /* Nothing held, nothing open, seqs with no gap. */
    CHECK(pipeline_acks_pending(f.p) == 0 && !journal_has_uncommitted(f.j) && pipeline_last_seq(f.p, "pizza") == 23);
    CHECK(f.st.rejected[KB_ERR_WRONG_STATION] == 6 && f.st.rejected[KB_ERR_UNKNOWN_STATION] == 5);
    teardown(&f);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_origin();
    test_create();
    test_duplicates_and_reuse();
    test_lifecycle();
    test_receipts();
    test_failed_commit();
    test_failed_write();
    test_failing_sink();
    test_hook_and_observers();
    test_reconcile_and_republish();
    test_free_commits();
    test_stations();
    rmdir(dir);
    return check_report();
}
