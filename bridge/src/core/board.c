/* board.c - see board.h.
 *
 * Per tenant, a small array of the open orders that can show on a board
 * (one entry per order number: the latest instance). An entry stays while
 * its order is open, so that an expired ready number does not come back
 * at the order's next change; it goes when the order closes. */
#include "board.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "order_status.h"
#include "order_validate.h"


typedef struct {
    char number[ORDER_NUMBER_MAX + 1];
    order_status status;
    long long since_ms;   /* ready: when it became ready (wall clock) */
    int64_t seq;          /* the order's created_seq: arrival order */
    int expired;          /* ready for longer than ready_for: no longer shown */
    char name[ORDER_PICKUP_NAME_MAX + 1];
} board_entry;

typedef struct board_tenant {
    struct board_tenant *next;
    char tenant[REGISTRY_ID_MAX + 1];
    board_entry *entries;
    size_t n, cap;
    char *published; /* the last document handed to publish */
    int dirty;
    int unsorted; /* an entry was added out of created_seq order */
} board_tenant;

struct board {
    registry *const *registry;
    int64_t ready_for_ms;
    board_publish_fn publish;
    void *ctx;
    board_tenant *tenants;
    double last_tick_ms;
};

board *board_new(registry *const *reg, int64_t ready_for_ms, board_publish_fn publish, void *ctx)
{
    board *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    *b = (board){.registry = reg, .ready_for_ms = ready_for_ms, .publish = publish, .ctx = ctx};
    return b;
}

void board_free(board *b)
{
    if (!b) return;
    while (b->tenants) {
        board_tenant *next = b->tenants->next;
        free(b->tenants->entries);
        free(b->tenants->published);
        free(b->tenants);
        b->tenants = next;
    }
    free(b);
}

static int any_board(const registry *r)
{
    for (size_t i = 0; i < r->n_devices; i++)
        if (r->devices[i].role == DEVICE_BOARD) return 1;
    return 0;
}

static board_tenant *tenant_of(board *b, const char *tenant)
{
    for (board_tenant *t = b->tenants; t; t = t->next)
        if (strcmp(t->tenant, tenant) == 0) return t;
    board_tenant *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    snprintf(t->tenant, sizeof t->tenant, "%s", tenant);
    t->dirty = 1; /* its first document goes out at its first change */
    t->next = b->tenants;
    b->tenants = t;
    return t;
}

static board_entry *entry_of(board_tenant *t, const char *number, int add)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->entries[i].number, number) == 0) return &t->entries[i];
    if (!add) return NULL;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        board_entry *grown = realloc(t->entries, cap * sizeof *grown);
        if (!grown) return NULL;
        t->entries = grown;
        t->cap = cap;
    }
    board_entry *e = &t->entries[t->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->number, sizeof e->number, "%s", number);
    return e;
}

static void drop_entry(board_tenant *t, board_entry *e)
{
    size_t i = (size_t)(e - t->entries);
    memmove(&t->entries[i], &t->entries[i + 1], (t->n - i - 1) * sizeof *e);
    t->n--;
}

/* Applies one order document (its latest state). Only orders a board can
 * show (accepted, preparing, ready) have an entry, so a tenant's entries
 * stay as few as its visible numbers, however many orders are new; the
 * tenant is marked dirty only when what it shows changed. */
static void apply(board *b, const char *tenant, const cJSON *order)
{
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(order, "order_number");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(order, "status");
    if (!cJSON_IsString(num) || !cJSON_IsString(st)) return;
    order_status status = order_status_parse(st->valuestring);
    int shown = status == ORDER_STATUS_ACCEPTED || status == ORDER_STATUS_PREPARING || status == ORDER_STATUS_READY;
    board_tenant *t = tenant_of(b, tenant);
    if (!t) return;
    board_entry *e = entry_of(t, num->valuestring, 0);
    if (!shown) {
        if (e) {
            drop_entry(t, e);
            t->dirty = 1;
        }
        return;
    }
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(order, "created_seq");
    int64_t created = cJSON_IsNumber(seq) ? (int64_t)seq->valuedouble : 0;
    if (!e) {
        int64_t last = t->n ? t->entries[t->n - 1].seq : 0;
        if (!(e = entry_of(t, num->valuestring, 1))) return;
        if (created < last) t->unsorted = 1;
        t->dirty = 1;
    }
    e->seq = created;
    if (status == ORDER_STATUS_READY && e->status != ORDER_STATUS_READY) {
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(order, "updated_at");
        long long since = cJSON_IsString(at) ? kb_iso_parse_ms(at->valuestring) : -1;
        e->since_ms = since > 0 ? since : kb_wall_ms();
        e->expired = kb_wall_ms() - e->since_ms > b->ready_for_ms;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(order, "pickup_name");
    const char *now_name = cJSON_IsString(name) ? name->valuestring : "";
    if (e->status != status || strncmp(e->name, now_name, sizeof e->name - 1) != 0) t->dirty = 1;
    snprintf(e->name, sizeof e->name, "%s", now_name);
    e->status = status;
}

static int by_seq(const void *a, const void *b)
{
    int64_t x = ((const board_entry *)a)->seq, y = ((const board_entry *)b)->seq;
    return (x > y) - (x < y);
}

static char *document(board *b, board_tenant *t)
{
    const registry_tenant *rt = registry_find_tenant(*b->registry, t->tenant);
    if (t->unsorted && t->n > 1) qsort(t->entries, t->n, sizeof *t->entries, by_seq);
    t->unsorted = 0;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "tenant", t->tenant);
    cJSON_AddStringToObject(doc, "tenant_name", rt ? rt->name : t->tenant);
    cJSON *preparing = cJSON_AddArrayToObject(doc, "preparing");
    cJSON *ready = cJSON_AddArrayToObject(doc, "ready");
    for (size_t i = 0; i < t->n; i++) {
        const board_entry *e = &t->entries[i];
        if (e->status == ORDER_STATUS_ACCEPTED || e->status == ORDER_STATUS_PREPARING) {
            cJSON_AddItemToArray(preparing, cJSON_CreateString(e->number));
        } else if (e->status == ORDER_STATUS_READY && !e->expired) {
            cJSON *r = cJSON_CreateObject();
            char since[32];
            kb_iso_from_ms(e->since_ms, since, sizeof since);
            cJSON_AddStringToObject(r, "number", e->number);
            cJSON_AddStringToObject(r, "since", since);
            if (rt && rt->board_names && e->name[0]) cJSON_AddStringToObject(r, "name", e->name);
            cJSON_AddItemToArray(ready, r);
        }
    }
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
}

/* Publishes a tenant's document if it differs from the last one sent (or
 * always, with force). */
static void flush_tenant(board *b, board_tenant *t, int force)
{
    char *doc = document(b, t);
    if (!doc) return;
    t->dirty = 0;
    if (!force && t->published && strcmp(t->published, doc) == 0) {
        free(doc);
        return;
    }
    if (b->publish(b->ctx, t->tenant, doc) != 0) log_warn("board %s: cannot publish", t->tenant);
    free(t->published);
    t->published = doc;
}

static int load_one(void *ctx, const char *tenant, const char *order_number, const char *doc, int64_t seq)
{
    (void)order_number;
    (void)seq;
    cJSON *order = cJSON_Parse(doc);
    if (order) apply(ctx, tenant, order);
    cJSON_Delete(order);
    return 0;
}

/* The entries are kept while the registry has no board, too: a board added
 * by a reload then shows the orders that were open before it. */
void board_load(board *b, journal *j)
{
    if (journal_for_each_open(j, NULL, load_one, b) != 0)
        log_error("board: cannot read the open orders: %s", journal_last_error(j));
}

void board_changed(void *ctx, const char *tenant, const char *doc, int created)
{
    (void)created;
    board *b = ctx;
    cJSON *order = cJSON_Parse(doc);
    if (order) apply(b, tenant, order);
    cJSON_Delete(order);
    board_tenant *t = tenant_of(b, tenant);
    if (t && t->dirty && any_board(*b->registry)) flush_tenant(b, t, 0);
}

void board_tick(board *b)
{
    double now = kb_now_ms();
    if (now - b->last_tick_ms < 1000.0) return;
    b->last_tick_ms = now;
    long long wall = kb_wall_ms();
    int publish = any_board(*b->registry);
    for (board_tenant *t = b->tenants; t; t = t->next) {
        for (size_t i = 0; i < t->n; i++) {
            board_entry *e = &t->entries[i];
            if (e->status == ORDER_STATUS_READY && !e->expired && wall - e->since_ms > b->ready_for_ms) {
                e->expired = 1;
                t->dirty = 1;
            }
        }
        if (t->dirty && publish) flush_tenant(b, t, 0);
    }
}

void board_publish_all(void *ctx)
{
    board *b = ctx;
    const registry *r = *b->registry;
    if (!any_board(r)) return;
    /* Every tenant of the registry gets a document, even an empty one, so
     * a board never shows a stale retained list from an earlier run. */
    for (size_t i = 0; i < r->n_tenants; i++) {
        board_tenant *t = tenant_of(b, r->tenants[i].id);
        if (t) flush_tenant(b, t, 1);
    }
}
