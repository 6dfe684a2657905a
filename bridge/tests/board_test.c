/* board_test.c - the pickup board (core/board.c) with a fake publish that
 * records every document, a registry from registry_parse with board
 * devices, order documents fed as the pipeline's change observer would
 * (board_changed) and, at start, from a real SQLite journal in a temp dir
 * (board_load).
 *
 * Checked: the Preparing and Ready lists (new orders left out, closed ones
 * dropped, a recall moving back), their order (arrival, by created_seq),
 * that a document carries numbers, "since" and, only where the tenant sets
 * board_names, the pickup name, and never an item, customer, table or
 * note; that nothing is published while the registry has no board (and
 * that a board a reload brings shows what was open before it); that a
 * document is published only when it changes (or at board_publish_all);
 * and the expiry of ready numbers, with "since" put in the past through
 * the order's updated_at and a tiny ready_for, so the test sleeps well
 * under two seconds in all although board_tick runs at most once a
 * second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "board.h"
#include "clock.h"
#include "journal.h"
#include "registry.h"

#include "check.h"
#include "journal_files.h"

static char dir[] = "/tmp/kb-board-test-XXXXXX";

static const char with_board[] =
    "{\"outlet\":{\"id\":\"court\",\"name\":\"Food Court\"},\"tenants\":["
    "{\"id\":\"pizza\",\"name\":\"Pizza Paradise\",\"board_names\":true,\"stations\":[\"oven\",\"bar\"],\"devices\":["
    "{\"username\":\"pizza-pos\",\"role\":\"pos\"},{\"username\":\"pizza-expo\",\"role\":\"expo\"}]},"
    "{\"id\":\"burger\",\"name\":\"Burger Station\",\"devices\":[{\"username\":\"burger-pos\",\"role\":\"pos\"}]},"
    "{\"id\":\"noodle\",\"name\":\"Noodle House\"}],"
    "\"boards\":[{\"username\":\"court-board\",\"tenants\":\"*\"}]}";

/* Only a list board: the tenants it does not list are still kept (a board
 * document is per tenant, the broker decides who reads it). */
static const char list_board[] =
    "{\"outlet\":{\"id\":\"court\"},\"tenants\":[{\"id\":\"pizza\",\"name\":\"Pizza Paradise\"},{\"id\":\"burger\"}],"
    "\"boards\":[{\"username\":\"pizza-board\",\"tenants\":[\"pizza\"]}]}";

static const char no_board[] =
    "{\"outlet\":{\"id\":\"court\"},\"tenants\":[{\"id\":\"pizza\",\"board_names\":true,\"devices\":["
    "{\"username\":\"pizza-pos\",\"role\":\"pos\"},{\"username\":\"pizza-kitchen\",\"role\":\"kitchen\"}]}],"
    "\"admins\":[{\"username\":\"admin\"}]}";

/* ---- the fake publish --------------------------------------------------- */

typedef struct {
    char tenant[REGISTRY_ID_MAX + 1];
    char *doc;
} pub_rec;

typedef struct {
    pub_rec *pubs;
    int n, cap;
    int fail; /* 1: publish returns -1 (after recording) */
} fake;

static int publish(void *ctx, const char *tenant, const char *doc)
{
    fake *f = ctx;
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 16;
        pub_rec *grown = realloc(f->pubs, (size_t)f->cap * sizeof *grown);
        if (!grown) abort();
        f->pubs = grown;
    }
    pub_rec *r = &f->pubs[f->n++];
    snprintf(r->tenant, sizeof r->tenant, "%s", tenant);
    r->doc = strdup(doc ? doc : "(null)");
    if (!r->doc) abort();
    return f->fail ? -1 : 0;
}

static void fake_free(fake *f)
{
    for (int i = 0; i < f->n; i++) free(f->pubs[i].doc);
    free(f->pubs);
    memset(f, 0, sizeof *f);
}

/* How many documents went out for tenant (NULL: for any). */
static int pubs_for(const fake *f, const char *tenant)
{
    int n = 0;
    for (int i = 0; i < f->n; i++) n += !tenant || strcmp(f->pubs[i].tenant, tenant) == 0;
    return n;
}

/* The last document published for tenant, parsed (the caller frees), NULL if none. */
static cJSON *last_doc(const fake *f, const char *tenant)
{
    for (int i = f->n - 1; i >= 0; i--)
        if (strcmp(f->pubs[i].tenant, tenant) == 0) return cJSON_Parse(f->pubs[i].doc);
    return NULL;
}

/* The numbers of the "preparing" list joined with commas ("" if empty; "?" if not a list of strings). */
static void preparing_of(const cJSON *doc, char *out, size_t len)
{
    out[0] = '\0';
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "preparing"), *it;
    if (!cJSON_IsArray(list)) {
        snprintf(out, len, "?");
        return;
    }
    cJSON_ArrayForEach(it, list) {
        if (!cJSON_IsString(it)) {
            snprintf(out, len, "?");
            return;
        }
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s", n ? "," : "", it->valuestring);
    }
}

/* The same for "ready" (its entries' "number"). */
static void ready_of(const cJSON *doc, char *out, size_t len)
{
    out[0] = '\0';
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "ready"), *it;
    if (!cJSON_IsArray(list)) {
        snprintf(out, len, "?");
        return;
    }
    cJSON_ArrayForEach(it, list) {
        const cJSON *num = cJSON_GetObjectItemCaseSensitive(it, "number");
        if (!cJSON_IsObject(it) || !cJSON_IsString(num)) {
            snprintf(out, len, "?");
            return;
        }
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s", n ? "," : "", num->valuestring);
    }
}

/* 1 if the tenant's last document lists exactly these numbers. */
static int shows(const fake *f, const char *tenant, const char *preparing, const char *ready)
{
    cJSON *doc = last_doc(f, tenant);
    char p[256], r[256];
    preparing_of(doc, p, sizeof p);
    ready_of(doc, r, sizeof r);
    int ok = doc && strcmp(p, preparing) == 0 && strcmp(r, ready) == 0;
    if (!ok) fprintf(stderr, "board %s shows preparing [%s] ready [%s], wanted [%s] [%s]\n", tenant, p, r, preparing, ready);
    cJSON_Delete(doc);
    return ok;
}

/* The tenant's last document's ready entry for number (a copy; the caller frees), NULL if none. */
static cJSON *ready_entry(const fake *f, const char *tenant, const char *number)
{
    cJSON *doc = last_doc(f, tenant), *found = NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "ready")) {
        const cJSON *num = cJSON_GetObjectItemCaseSensitive(it, "number");
        if (cJSON_IsString(num) && strcmp(num->valuestring, number) == 0) found = cJSON_Duplicate(it, 1);
    }
    cJSON_Delete(doc);
    return found;
}

static int str_is(const cJSON *obj, const char *key, const char *want)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && strcmp(v->valuestring, want) == 0;
}

/* Every document published is sanitised: the tenant and its name, two
 * lists, and per ready number only number, since and name. */
static int all_sanitised(const fake *f)
{
    static const char *const secrets[] = {"Secret Customer", "T-99", "private note", "Hidden Pizza", "no onions",
                                          "customer", "table", "items", "notes", "station", "seq", "received_at",
                                          "pickup_name", "x_pos_field"};
    int ok = 1;
    for (int i = 0; i < f->n; i++) {
        const char *text = f->pubs[i].doc;
        for (size_t s = 0; s < sizeof secrets / sizeof *secrets; s++)
            if (strstr(text, secrets[s])) {
                fprintf(stderr, "board document carries \"%s\": %s\n", secrets[s], text);
                ok = 0;
            }
        cJSON *doc = cJSON_Parse(text);
        if (!cJSON_IsObject(doc) || cJSON_GetArraySize(doc) != 4 || !str_is(doc, "tenant", f->pubs[i].tenant) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "tenant_name")) ||
            !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "preparing")) ||
            !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "ready"))) {
            fprintf(stderr, "board document has another shape: %s\n", text);
            ok = 0;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "ready")) {
            const cJSON *k;
            cJSON_ArrayForEach(k, it) if (strcmp(k->string, "number") != 0 && strcmp(k->string, "since") != 0 &&
                                          strcmp(k->string, "name") != 0) ok = 0;
            if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "since"))) ok = 0;
        }
        cJSON_Delete(doc);
    }
    return ok;
}

/* ---- order documents ---------------------------------------------------- */

/* An order as the pipeline publishes it, with everything a board must not
 * show. updated_ms < 0: no updated_at; pickup NULL: no pickup_name. */
static char *order_doc(const char *number, const char *status, int created_seq, int seq, long long updated_ms,
                       const char *pickup)
{
    static char buf[1024];
    char updated[64] = "", name[64] = "";
    if (updated_ms >= 0) {
        char iso[32];
        kb_iso_from_ms(updated_ms, iso, sizeof iso);
        snprintf(updated, sizeof updated, ",\"updated_at\":\"%s\"", iso);
    }
    if (pickup) snprintf(name, sizeof name, ",\"pickup_name\":\"%s\"", pickup);
    snprintf(buf, sizeof buf,
             "{\"order_number\":\"%s\",\"tenant_id\":\"pizza\",\"status\":\"%s\",\"seq\":%d,\"created_seq\":%d,"
             "\"customer_name\":\"Secret Customer\",\"table\":\"T-99\",\"notes\":\"private note\","
             "\"items\":[{\"name\":\"Hidden Pizza\",\"qty\":1,\"notes\":\"no onions\",\"station\":\"oven\"}],"
             "\"stations\":{\"oven\":\"ready\"},\"received_at\":\"2026-01-01T00:00:00.000Z\",\"x_pos_field\":1%s%s}",
             number, status, seq, created_seq, updated, name);
    return buf;
}

static void change(board *b, const char *tenant, const char *number, const char *status, int created_seq, int seq,
                   long long updated_ms, const char *pickup)
{
    board_changed(b, tenant, order_doc(number, status, created_seq, seq, updated_ms, pickup), seq == created_seq);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static registry *load(const char *json)
{
    registry *r = NULL;
    char err[256];
    CHECK(registry_parse(json, strlen(json), &r, err, sizeof err) == 0);
    return r;
}

/* ---- tests -------------------------------------------------------------- */

static void test_lists(void)
{
    registry *reg = load(with_board);
    if (!reg) return;
    fake f = {0};
    board *b = board_new(&reg, 10 * 60 * 1000, publish, &f);
    CHECK(b != NULL);
    if (!b) {
        registry_free(reg);
        return;
    }
    long long now = kb_wall_ms();

    /* A new order shows nowhere; the tenant's first document is the empty one. */
    change(b, "pizza", "17", "new", 2, 2, now, "Ana");
    CHECK(f.n == 1 && shows(&f, "pizza", "", ""));
    cJSON *doc = last_doc(&f, "pizza");
    CHECK(str_is(doc, "tenant", "pizza") && str_is(doc, "tenant_name", "Pizza Paradise"));
    cJSON_Delete(doc);
    /* Another new one changes nothing: nothing published. */
    change(b, "pizza", "18", "new", 3, 3, now, NULL);
    change(b, "pizza", "16", "new", 1, 1, now, "Bo");
    CHECK(f.n == 1);
    /* Accepted and preparing are Preparing, oldest first whatever the
     * order of the changes. */
    change(b, "pizza", "18", "accepted", 3, 4, now, NULL);
    CHECK(f.n == 2 && shows(&f, "pizza", "18", ""));
    change(b, "pizza", "17", "preparing", 2, 5, now, "Ana");
    CHECK(f.n == 3 && shows(&f, "pizza", "17,18", ""));
    change(b, "pizza", "16", "accepted", 1, 6, now, "Bo");
    CHECK(f.n == 4 && shows(&f, "pizza", "16,17,18", ""));
    /* accepted -> preparing does not change the board: nothing published. */
    change(b, "pizza", "16", "preparing", 1, 7, now, "Bo");
    CHECK(f.n == 4);

    /* Ready: since is the change's updated_at, the name is the pickup_name
     * (the tenant sets board_names). */
    long long at17 = now - 5000;
    change(b, "pizza", "17", "ready", 2, 8, at17, "Ana");
    CHECK(f.n == 5 && shows(&f, "pizza", "16,18", "17"));
    cJSON *e = ready_entry(&f, "pizza", "17");
    char iso[32];
    kb_iso_from_ms(at17, iso, sizeof iso);
    CHECK(e && str_is(e, "since", iso) && str_is(e, "name", "Ana") && cJSON_GetArraySize(e) == 3);
    cJSON_Delete(e);
    /* A later change while ready (a station recalled and bumped again
     * between, say) keeps the first since. */
    change(b, "pizza", "17", "ready", 2, 9, now, "Ana");
    CHECK(f.n == 5);
    e = ready_entry(&f, "pizza", "17");
    CHECK(e && str_is(e, "since", iso));
    cJSON_Delete(e);
    /* Ready in arrival order too; without pickup_name, no name. */
    change(b, "pizza", "18", "ready", 3, 10, now - 1000, NULL);
    change(b, "pizza", "16", "ready", 1, 11, now - 2000, "Bo");
    CHECK(f.n == 7 && shows(&f, "pizza", "", "16,17,18"));
    e = ready_entry(&f, "pizza", "18");
    CHECK(e && !cJSON_GetObjectItemCaseSensitive(e, "name") && cJSON_GetArraySize(e) == 2);
    cJSON_Delete(e);
    e = ready_entry(&f, "pizza", "16");
    CHECK(e && str_is(e, "name", "Bo"));
    cJSON_Delete(e);

    /* Recall: back to Preparing. Ready again: a new since. */
    change(b, "pizza", "18", "preparing", 3, 12, now, NULL);
    CHECK(f.n == 8 && shows(&f, "pizza", "18", "16,17"));
    long long again = now - 10;
    change(b, "pizza", "18", "ready", 3, 13, again, NULL);
    CHECK(f.n == 9 && shows(&f, "pizza", "", "16,17,18"));
    e = ready_entry(&f, "pizza", "18");
    kb_iso_from_ms(again, iso, sizeof iso);
    CHECK(e && str_is(e, "since", iso));
    cJSON_Delete(e);

    /* Served and cancelled leave the board. */
    change(b, "pizza", "16", "served", 1, 14, now, "Bo");
    CHECK(f.n == 10 && shows(&f, "pizza", "", "17,18"));
    change(b, "pizza", "18", "cancelled", 3, 15, now, NULL);
    CHECK(f.n == 11 && shows(&f, "pizza", "", "17"));
    /* A closed order the board never had, an order of no status, bad JSON:
     * nothing published. */
    change(b, "pizza", "99", "served", 20, 21, now, NULL);
    change(b, "pizza", "98", "bogus", 22, 22, now, NULL);
    board_changed(b, "pizza", "{\"order_number\":\"97\"}", 1);
    board_changed(b, "pizza", "{\"status\":\"ready\"}", 1);
    board_changed(b, "pizza", "not json", 1);
    CHECK(f.n == 11);
    /* The number used again after it closed is a new order on the board. */
    change(b, "pizza", "16", "new", 30, 30, now, NULL);
    change(b, "pizza", "16", "accepted", 30, 31, now, NULL);
    CHECK(f.n == 12 && shows(&f, "pizza", "16", "17"));

    /* Another tenant: its own document, and no names without board_names. */
    change(b, "burger", "5", "new", 1, 1, now, "Cy");
    CHECK(pubs_for(&f, "burger") == 1 && shows(&f, "burger", "", ""));
    change(b, "burger", "5", "ready", 1, 2, now, "Cy");
    CHECK(pubs_for(&f, "burger") == 2 && shows(&f, "burger", "", "5"));
    e = ready_entry(&f, "burger", "5");
    CHECK(e && !cJSON_GetObjectItemCaseSensitive(e, "name"));
    cJSON_Delete(e);
    doc = last_doc(&f, "burger");
    CHECK(str_is(doc, "tenant", "burger") && str_is(doc, "tenant_name", "Burger Station"));
    cJSON_Delete(doc);
    CHECK(shows(&f, "pizza", "16", "17")); /* untouched */
    /* An empty pickup_name is no name. */
    change(b, "pizza", "40", "ready", 40, 40, now, "");
    e = ready_entry(&f, "pizza", "40");
    CHECK(e && !cJSON_GetObjectItemCaseSensitive(e, "name"));
    cJSON_Delete(e);
    /* A tenant the registry does not have: its id as its name. */
    change(b, "ghost", "1", "accepted", 1, 2, now, NULL);
    doc = last_doc(&f, "ghost");
    CHECK(doc && str_is(doc, "tenant_name", "ghost"));
    cJSON_Delete(doc);

    /* Every document: no order content, only the board's fields; each one
     * differs from the tenant's previous one. */
    CHECK(all_sanitised(&f));
    for (int i = 0; i < f.n; i++)
        for (int k = i - 1; k >= 0; k--)
            if (strcmp(f.pubs[k].tenant, f.pubs[i].tenant) == 0) {
                CHECK(strcmp(f.pubs[k].doc, f.pubs[i].doc) != 0);
                break;
            }

    /* board_publish_all: every registry tenant, changed or not, even empty. */
    int before = f.n;
    board_publish_all(b);
    CHECK(f.n == before + 3 && pubs_for(&f, "noodle") == 1 && shows(&f, "noodle", "", ""));
    CHECK(shows(&f, "pizza", "16", "17,40") && shows(&f, "burger", "", "5"));
    board_publish_all(b);
    CHECK(f.n == before + 6);
    /* A failing publish is logged; the next connect's publish_all sends it again. */
    f.fail = 1;
    change(b, "pizza", "41", "accepted", 41, 42, now, NULL);
    CHECK(f.n == before + 7);
    f.fail = 0;
    board_publish_all(b);
    CHECK(f.n == before + 10 && shows(&f, "pizza", "16,41", "17,40"));
    board_free(b);
    fake_free(&f);
    registry_free(reg);
}

/* A board listing one tenant: the bridge still keeps every tenant's
 * document (what a board may read is the broker's ACL). */
static void test_list_board(void)
{
    registry *reg = load(list_board);
    if (!reg) return;
    fake f = {0};
    board *b = board_new(&reg, 60000, publish, &f);
    change(b, "pizza", "1", "accepted", 1, 2, kb_wall_ms(), NULL);
    change(b, "burger", "2", "accepted", 1, 2, kb_wall_ms(), NULL);
    CHECK(shows(&f, "pizza", "1", "") && shows(&f, "burger", "2", ""));
    board_publish_all(b);
    CHECK(f.n == 4);
    board_free(b);
    fake_free(&f);
    registry_free(reg);
}

/* ---- the journal -------------------------------------------------------- */

static int put(journal *j, const char *tenant, const char *number, order_status st, int created_seq, int seq,
               long long updated_ms, const char *pickup)
{
    journal_order o = {.status = st, .seq = seq, .created_seq = created_seq,
                       .doc = order_doc(number, order_status_name(st), created_seq, seq, updated_ms, pickup),
                       .closed_at_ms = order_status_is_open(st) ? 0 : kb_wall_ms()};
    snprintf(o.fingerprint, sizeof o.fingerprint, "fp-%s", number);
    return journal_put_change(j, tenant, number, &o, "{\"event\":\"x\"}");
}

static void test_load(void)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/board.db", dir);
    journal *j = NULL;
    CHECK(journal_open(&j, path, err, sizeof err) == 0);
    if (!j) return;
    long long now = kb_wall_ms();
    CHECK(put(j, "pizza", "20", ORDER_STATUS_NEW, 1, 1, now, NULL) == 0);
    CHECK(put(j, "pizza", "21", ORDER_STATUS_NEW, 2, 2, now, NULL) == 0);
    CHECK(put(j, "pizza", "22", ORDER_STATUS_NEW, 3, 3, now, NULL) == 0);
    CHECK(put(j, "pizza", "23", ORDER_STATUS_NEW, 4, 4, now, NULL) == 0);
    CHECK(put(j, "pizza", "24", ORDER_STATUS_NEW, 5, 5, now, NULL) == 0);
    CHECK(put(j, "pizza", "22", ORDER_STATUS_READY, 3, 6, now - 2000, "Di") == 0);
    CHECK(put(j, "pizza", "20", ORDER_STATUS_READY, 1, 7, now - 60 * 60 * 1000, "Ed") == 0); /* long ago */
    CHECK(put(j, "pizza", "21", ORDER_STATUS_PREPARING, 2, 8, now, NULL) == 0);
    CHECK(put(j, "pizza", "23", ORDER_STATUS_SERVED, 4, 9, now, NULL) == 0);
    CHECK(put(j, "pizza", "24", ORDER_STATUS_ACCEPTED, 5, 10, now, NULL) == 0);
    CHECK(put(j, "burger", "5", ORDER_STATUS_NEW, 1, 1, now, NULL) == 0);
    CHECK(put(j, "burger", "5", ORDER_STATUS_READY, 1, 2, now - 1000, "Fi") == 0);
    CHECK(journal_commit(j) == 0);

    /* No board in the registry: nothing published; what it loaded shows
     * once a reload brings a board. */
    registry *none = load(no_board), *cur = none;
    registry *reg = load(with_board);
    fake f = {0};
    board *b = none && reg ? board_new(&cur, 10 * 60 * 1000, publish, &f) : NULL;
    if (b) {
        board_load(b, j);
        board_publish_all(b);
        board_tick(b);
        CHECK(f.n == 0);
        cur = reg;
        board_publish_all(b);
        CHECK(f.n == 3 && shows(&f, "pizza", "21,24", "22") && shows(&f, "burger", "", "5"));
        board_free(b);
        fake_free(&f);
    }

    b = reg ? board_new(&reg, 10 * 60 * 1000, publish, &f) : NULL;
    CHECK(b != NULL);
    if (b) {
        /* Loading publishes nothing by itself; the connect's publish_all does. */
        board_load(b, j);
        CHECK(f.n == 0);
        board_publish_all(b);
        CHECK(f.n == 3);
        /* 20 was ready an hour ago: past ready_for (10 min), not shown. */
        CHECK(shows(&f, "pizza", "21,24", "22") && shows(&f, "burger", "", "5") && shows(&f, "noodle", "", ""));
        cJSON *e = ready_entry(&f, "pizza", "22");
        char iso[32];
        kb_iso_from_ms(now - 2000, iso, sizeof iso);
        CHECK(e && str_is(e, "since", iso) && str_is(e, "name", "Di"));
        cJSON_Delete(e);
        e = ready_entry(&f, "burger", "5");
        CHECK(e && !cJSON_GetObjectItemCaseSensitive(e, "name"));
        cJSON_Delete(e);
        /* Nothing changed since: a tick publishes nothing. */
        board_tick(b);
        CHECK(f.n == 3);
        /* The expired number does not come back at its order's next change
         * while it stays ready; it goes when the order is served. */
        change(b, "pizza", "20", "ready", 1, 11, now, "Ed");
        CHECK(f.n == 3);
        change(b, "pizza", "20", "served", 1, 12, now, "Ed");
        CHECK(f.n == 3);
        change(b, "pizza", "22", "served", 3, 13, now, "Di");
        CHECK(f.n == 4 && shows(&f, "pizza", "21,24", ""));
        CHECK(all_sanitised(&f));
        board_free(b);
    }
    fake_free(&f);
    registry_free(reg);
    registry_free(none);
    journal_close(j);
    remove_db(path);
}

/* ---- no board ----------------------------------------------------------- */

static void test_no_board(void)
{
    registry *none = load(no_board), *with = load(with_board);
    if (!none || !with) {
        registry_free(none);
        registry_free(with);
        return;
    }
    registry *cur = none;
    fake f = {0};
    board *b = board_new(&cur, 60000, publish, &f);
    long long now = kb_wall_ms();
    change(b, "pizza", "1", "new", 1, 1, now, NULL);
    change(b, "pizza", "1", "accepted", 1, 2, now, NULL);
    change(b, "pizza", "2", "ready", 2, 3, now, "Ana");
    board_tick(b);
    board_publish_all(b);
    CHECK(f.n == 0);
    /* The registry is read at each call: once it has a board (a reload),
     * changes go out, with the orders that were open before it. */
    cur = with;
    change(b, "pizza", "3", "accepted", 4, 5, now, NULL);
    CHECK(f.n == 1 && shows(&f, "pizza", "1,3", "2"));
    /* ...and stop again without it. */
    cur = none;
    change(b, "pizza", "4", "accepted", 6, 7, now, NULL);
    change(b, "pizza", "1", "served", 1, 8, now, NULL);
    board_publish_all(b);
    board_tick(b);
    CHECK(f.n == 1);
    cur = with;
    board_publish_all(b);
    CHECK(f.n == 4 && shows(&f, "pizza", "3,4", "2"));
    board_free(b);
    fake_free(&f);
    registry_free(none);
    registry_free(with);
}

/* ---- expiry ------------------------------------------------------------- */

static void test_expiry(void)
{
    registry *reg = load(with_board);
    if (!reg) return;
    fake f = {0};
    enum { READY_FOR = 400 };
    board *b = board_new(&reg, READY_FOR, publish, &f);
    long long now = kb_wall_ms();
    /* 30 has been ready for 200 ms, 31 for a second (past ready_for at once:
     * never shown), 32 from now (no updated_at: the board's own clock). */
    change(b, "pizza", "30", "ready", 1, 2, now - READY_FOR / 2, NULL);
    CHECK(shows(&f, "pizza", "", "30"));
    change(b, "pizza", "31", "ready", 3, 4, now - 1000, NULL);
    board_changed(b, "pizza",
                  "{\"order_number\":\"32\",\"status\":\"ready\",\"created_seq\":5,\"seq\":6,\"customer_name\":\"Secret Customer\"}",
                  0);
    CHECK(shows(&f, "pizza", "", "30,32"));
    int n = f.n;
    sleep_ms(READY_FOR * 3 / 4); /* 30: 500 ms, 32: 300 ms */
    /* The first tick runs: 30 goes, 32 stays. */
    board_tick(b);
    CHECK(f.n == n + 1 && shows(&f, "pizza", "", "32"));
    /* Another tick at once: nothing to do. */
    board_tick(b);
    CHECK(f.n == n + 1);
    double first_tick = kb_now_ms();
    sleep_ms(READY_FOR / 2); /* 32: 500 ms, past ready_for */
    /* Within a second of the last tick, a tick does nothing... */
    board_tick(b);
    CHECK(f.n == n + 1 && shows(&f, "pizza", "", "32"));
    /* ...and the next one a second later expires 32. */
    double wait = 1000.0 - (kb_now_ms() - first_tick) + 20;
    if (wait > 0) sleep_ms((long)wait);
    board_tick(b);
    CHECK(f.n == n + 2 && shows(&f, "pizza", "", ""));
    /* An expired number recalled is Preparing again; ready again, shown anew. */
    change(b, "pizza", "30", "preparing", 1, 7, kb_wall_ms(), NULL);
    CHECK(f.n == n + 3 && shows(&f, "pizza", "30", ""));
    change(b, "pizza", "30", "ready", 1, 8, kb_wall_ms(), NULL);
    CHECK(f.n == n + 4 && shows(&f, "pizza", "", "30"));
    /* Served after it expired: it was not shown, nothing to publish. */
    change(b, "pizza", "31", "served", 3, 9, kb_wall_ms(), NULL);
    CHECK(f.n == n + 4);
    CHECK(all_sanitised(&f));
    board_free(b);
    fake_free(&f);
    registry_free(reg);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_lists();
    test_list_board();
    test_load();
    test_no_board();
    test_expiry();
    rmdir(dir);
    return check_report();
}
