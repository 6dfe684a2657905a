/* order_pipeline.c - see order_pipeline.h for the path of a change. */
#include "order_pipeline.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ack_queue.h"
#include "clock.h"
#include "json_util.h"
#include "log.h"
#include "order_fingerprint.h"
#include "order_stations.h"

/* Per-tenant last seq, authoritative in memory so a rolled-back batch never
 * hands out the same seq twice (seq never goes backwards for a kitchen). */
typedef struct seq_entry {
    struct seq_entry *next;
    char tenant[REGISTRY_ID_MAX + 1];
    int64_t last;
} seq_entry;

struct kb_pipeline {
    journal *journal;
    kb_status *status;
    registry *const *registry;
    int64_t dedupe_window_ms;
    ack_queue acks;
    seq_entry *seqs;
    kb_order_sink sink;
    struct {
        kb_change_fn fn;
        void *ctx;
    } observers[PIPELINE_OBSERVERS_MAX];
    int n_observers;
    void (*commit_soon)(void *ctx);
    void *commit_ctx;
};

/* The tenant's entry, read from the journal the first time; NULL if out of
 * memory or the journal cannot be read (nothing is cached then: a guessed
 * seq would collide with the tenant's journaled events). */
static seq_entry *seq_of(kb_pipeline *p, const char *tenant)
{
    for (seq_entry *s = p->seqs; s; s = s->next)
        if (strcmp(s->tenant, tenant) == 0) return s;
    int64_t last = journal_last_seq(p->journal, tenant);
    if (last < 0) return NULL;
    seq_entry *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    strcpy(s->tenant, tenant);
    s->last = last;
    s->next = p->seqs;
    p->seqs = s;
    return s;
}

/* The seq for a new change, or -1 if out of memory or the journal failed. */
static int64_t next_seq(kb_pipeline *p, const char *tenant)
{
    seq_entry *s = seq_of(p, tenant);
    return s ? ++s->last : -1;
}

int64_t pipeline_last_seq(kb_pipeline *p, const char *tenant)
{
    seq_entry *s = seq_of(p, tenant);
    return s ? s->last : journal_last_seq(p->journal, tenant);
}

/* Gives a rejection to its origin at once: it changes nothing. */
static void reject(kb_pipeline *p, const kb_origin *from, const order_rejection *rej)
{
    p->status->rejected[rej->error]++;
    log_info("rejected %s from %s (order %s): %s", kb_error_code(rej->error), from->device,
             rej->order_number[0] ? rej->order_number : "-", rej->detail);
    kb_ack ack = {.result = KB_ACK_REJECTED, .order_number = rej->order_number, .error = rej->error,
                  .detail = rej->detail};
    if (from->reply) from->reply(from->reply_ctx, from, &ack);
}

static void reject_code(kb_pipeline *p, const kb_origin *from, const char *order_number, kb_error e,
                        const char *detail)
{
    order_rejection rej = {.error = e};
    snprintf(rej.order_number, sizeof rej.order_number, "%s", order_number);
    snprintf(rej.detail, sizeof rej.detail, "%s", detail);
    reject(p, from, &rej);
}

/* Every ack held for the failed batch `epoch` becomes a rejection. */
static void reject_epoch(kb_pipeline *p, uint64_t epoch, const char *detail)
{
    ack_entry *e;
    while ((e = ack_queue_pop_epoch(&p->acks, epoch))) {
        reject_code(p, &e->from, e->order_number, KB_ERR_JOURNAL_UNAVAILABLE, detail);
        free(e);
    }
}

/* The epoch an ack must wait for: the open batch if any change is in it. */
static uint64_t wait_epoch(kb_pipeline *p)
{
    return journal_has_uncommitted(p->journal) ? journal_open_epoch(p->journal)
                                               : journal_committed_epoch(p->journal);
}

static void hold_ack(kb_pipeline *p, const kb_origin *from, const char *order_number, int64_t seq,
                     order_status status, int duplicate, int delivery, double started)
{
    ack_entry *e = calloc(1, sizeof *e);
    if (!e) {
        log_error("out of memory holding the ack for %s", order_number);
        return;
    }
    e->epoch = wait_epoch(p);
    e->delivery = delivery;
    e->seq = seq;
    e->status = status;
    e->duplicate = duplicate;
    e->started_ms = started;
    e->from = *from;
    snprintf(e->order_number, sizeof e->order_number, "%s", order_number);
    if (ack_queue_push(&p->acks, e) != 0) {
        log_error("out of memory holding the ack for %s", order_number);
        free(e);
    }
}

/* Sets obj[key] to v and takes v, replacing a value the POS sent; v is freed
 * if it cannot be attached. */
static void set_item(cJSON *obj, const char *key, cJSON *v)
{
    if (!v) return;
    cJSON_bool ok = cJSON_GetObjectItemCaseSensitive(obj, key) ? cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v)
                                                               : cJSON_AddItemToObject(obj, key, v);
    if (!ok) cJSON_Delete(v);
}

/* created_seq (contract 1.4): the instance the change belongs to, so a
 * reader of events alone (head office) can tell instances of a reused
 * number apart. */
static char *event_json(const char *event, const char *order_number, order_status status,
                        order_status previous, int64_t seq, int64_t created_seq, const char *at, const char *by,
                        cJSON *order)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "event", event);
    cJSON_AddStringToObject(ev, "order_number", order_number);
    cJSON_AddStringToObject(ev, "status", order_status_name(status));
    if (previous != ORDER_STATUS_INVALID)
        cJSON_AddStringToObject(ev, "previous", order_status_name(previous));
    cJSON_AddNumberToObject(ev, "seq", (double)seq);
    cJSON_AddNumberToObject(ev, "created_seq", (double)created_seq);
    cJSON_AddStringToObject(ev, "at", at);
    cJSON_AddStringToObject(ev, "by", by);
    if (order) cJSON_AddItemReferenceToObject(ev, "order", order);
    char *text = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    return text;
}

/* A station's change: "status" when the order's status moved with it (the
 * last part ready: the order is ready), else "station". */
static char *station_event_json(const char *order_number, order_status status, order_status previous,
                                const char *station, order_status part, int64_t seq, int64_t created_seq,
                                const char *at, const char *by)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "event", status != previous ? "status" : "station");
    cJSON_AddStringToObject(ev, "order_number", order_number);
    cJSON_AddStringToObject(ev, "status", order_status_name(status));
    if (status != previous) cJSON_AddStringToObject(ev, "previous", order_status_name(previous));
    cJSON_AddStringToObject(ev, "station", station);
    cJSON_AddStringToObject(ev, "station_status", order_status_name(part));
    cJSON_AddNumberToObject(ev, "seq", (double)seq);
    cJSON_AddNumberToObject(ev, "created_seq", (double)created_seq);
    cJSON_AddStringToObject(ev, "at", at);
    cJSON_AddStringToObject(ev, "by", by);
    char *text = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    return text;
}

#define NOT_RECORDED "the bridge cannot write its journal; the order was not recorded, send it again later"

/* Journals a change; on failure the whole open batch is lost, so every ack
 * held for it becomes a rejection. Returns 0 or -1. */
static int journal_change(kb_pipeline *p, const char *tenant, const char *order_number,
                          const journal_order *state, const char *event)
{
    if (journal_put_change(p->journal, tenant, order_number, state, event) == 0) return 0;
    uint64_t epoch = journal_open_epoch(p->journal);
    log_error("journal write failed: %s", journal_last_error(p->journal));
    journal_abort(p->journal);
    status_journal_failed(p->status, journal_last_error(p->journal));
    reject_epoch(p, epoch, NOT_RECORDED);
    return -1;
}

/* The retained state and the event of a change. A new or changed order's
 * state goes first (it is what screens show); when an order closes the event
 * goes first, so a screen that sees the state cleared already knows whether
 * it was served or cancelled. */
static int publish_change(kb_pipeline *p, const char *tenant, const char *order_number, const char *state,
                          const char *closing_doc, const char *event, int *delivery)
{
    const kb_order_sink *s = &p->sink;
    if (!s->publish_state || !s->publish_event) return -1;
    if (!state && s->publish_event(s->ctx, tenant, event) != 0) return -1;
    if (!state && s->publish_closing && s->publish_closing(s->ctx, tenant, order_number, closing_doc) != 0) return -1;
    if (s->publish_state(s->ctx, tenant, order_number, state, delivery) != 0) return -1;
    if (state && s->publish_event(s->ctx, tenant, event) != 0) return -1;
    return 0;
}

/* Publishes a change (deliver first), tells the observers, writes it into
 * the open journal batch and holds its ack. `published` is the retained
 * state, NULL to clear it. */
static void apply_change(kb_pipeline *p, const kb_origin *from, const char *order_number,
                         const journal_order *state, const char *published, const char *event, double started)
{
    int delivery = 0;
    const char *tenant = from->tenant;
    if (!state->doc || !event) {
        reject_code(p, from, order_number, KB_ERR_JOURNAL_UNAVAILABLE, "out of memory");
    } else if (publish_change(p, tenant, order_number, published, state->doc, event, &delivery) != 0) {
        reject_code(p, from, order_number, KB_ERR_JOURNAL_UNAVAILABLE, "the broker connection failed; send it again");
    } else if (journal_change(p, tenant, order_number, state, event) != 0) {
        reject_code(p, from, order_number, KB_ERR_JOURNAL_UNAVAILABLE, NOT_RECORDED);
    } else {
        int created = state->seq == state->created_seq;
        int64_t ticket = journal_last_ticket_ms(p->journal);
        if (ticket >= 0) status_record_ticket(p->status, tenant, (double)ticket);
        if (created) p->status->accepted++;
        else p->status->status_changes++;
        hold_ack(p, from, order_number, state->seq, state->status, 0, delivery, started);
        for (int i = 0; i < p->n_observers; i++) p->observers[i].fn(p->observers[i].ctx, tenant, state->doc, created);
    }
}

/* The journal's record of an order: 1 found, 0 not, -1 after telling the
 * sender the journal could not be read. */
static int lookup(kb_pipeline *p, const kb_origin *from, const char *order_number, journal_order *out)
{
    int found = journal_get_order(p->journal, from->tenant, order_number, out);
    if (found < 0) reject_code(p, from, order_number, KB_ERR_JOURNAL_UNAVAILABLE, "journal read failed");
    return found;
}

/* The order a status change or report names: 1 found, else 0 or -1 after
 * telling the sender (unknown_order, or the journal could not be read). */
static int find_order(kb_pipeline *p, const kb_origin *from, const char *order_number, journal_order *out)
{
    int found = lookup(p, from, order_number, out);
    if (found == 0) reject_code(p, from, order_number, KB_ERR_UNKNOWN_ORDER, "no such order for this tenant");
    return found;
}

/* What a submitted order is, next to the latest instance of its number:
 * the same content while that one is open, or closed within the dedupe
 * window, is a re-send (duplicate); other content while it is open is a
 * clash (order_number_in_use); anything else is a new instance. */
typedef enum { SUBMIT_NEW, SUBMIT_DUPLICATE, SUBMIT_IN_USE } submit_kind;

static submit_kind classify_submit(const kb_pipeline *p, const journal_order *latest, const char *fingerprint)
{
    int open = order_status_is_open(latest->status);
    if (strcmp(latest->fingerprint, fingerprint) == 0 &&
        (open || journal_wall_ms() - latest->closed_at_ms <= p->dedupe_window_ms))
        return SUBMIT_DUPLICATE;
    return open ? SUBMIT_IN_USE : SUBMIT_NEW;
}

static void handle_create(kb_pipeline *p, const kb_origin *from, order_request *req, double started)
{
    char fingerprint[ORDER_FINGERPRINT_HEX + 1];
    if (order_fingerprint(req->order, fingerprint) != 0) {
        reject_code(p, from, req->order_number, KB_ERR_JOURNAL_UNAVAILABLE, "out of memory");
        return;
    }
    order_rejection rej = {.error = KB_OK};
    const registry_tenant *t = registry_find_tenant(*p->registry, from->tenant);
    if (t && order_assign_stations(req->order, t, &rej) != KB_OK) {
        reject_code(p, from, req->order_number, rej.error, rej.detail);
        return;
    }
    journal_order old = {0};
    int found = lookup(p, from, req->order_number, &old);
    if (found < 0) return;
    submit_kind kind = found ? classify_submit(p, &old, fingerprint) : SUBMIT_NEW;
    if (kind == SUBMIT_DUPLICATE) {
        p->status->duplicates++;
        hold_ack(p, from, req->order_number, old.created_seq, old.status, 1, 0, started);
    } else if (kind == SUBMIT_IN_USE) {
        char detail[ORDER_DETAIL_MAX];
        snprintf(detail, sizeof detail,
                 "order %s is open (%s, seq %lld) with other content; send it under another number", req->order_number,
                 order_status_name(old.status), (long long)old.seq);
        reject_code(p, from, req->order_number, KB_ERR_ORDER_NUMBER_IN_USE, detail);
    }
    free(old.doc);
    if (kind != SUBMIT_NEW) return;
    int64_t seq = next_seq(p, from->tenant);
    if (seq < 0) {
        reject_code(p, from, req->order_number, KB_ERR_JOURNAL_UNAVAILABLE, "the journal cannot be read, or out of memory");
        return;
    }
    char now[32];
    kb_iso_time(now, sizeof now);
    cJSON *order = req->order;
    set_item(order, "status", cJSON_CreateString("new"));
    set_item(order, "seq", cJSON_CreateNumber((double)seq));
    set_item(order, "created_seq", cJSON_CreateNumber((double)seq));
    set_item(order, "received_at", cJSON_CreateString(now));
    set_item(order, "updated_at", cJSON_CreateString(now));
    char *doc = cJSON_PrintUnformatted(order);
    char *event = event_json("created", req->order_number, ORDER_STATUS_NEW, ORDER_STATUS_INVALID, seq, seq, now,
                             from->device, order);
    journal_order state = {.status = ORDER_STATUS_NEW, .seq = seq, .created_seq = seq, .doc = doc};
    memcpy(state.fingerprint, fingerprint, sizeof state.fingerprint);
    apply_change(p, from, req->order_number, &state, doc, event, started);
    free(doc);
    free(event);
}

/* receipt: a legacy kitchen's acknowledgement of an order it was sent. A new
 * order becomes accepted; any later state is answered duplicate with that
 * state, and like every ack it waits for the batch that state is in. */
static void handle_status(kb_pipeline *p, const kb_origin *from, order_request *req, double started, int receipt)
{
    journal_order old = {0};
    if (find_order(p, from, req->order_number, &old) != 1) return;
    char detail[ORDER_DETAIL_MAX];
    if (old.status == req->status || (receipt && old.status != ORDER_STATUS_NEW)) {
        p->status->duplicates++;
        hold_ack(p, from, req->order_number, old.seq, old.status, 1, 0, started);
    } else if (!order_status_is_open(old.status)) {
        snprintf(detail, sizeof detail, "the order is already %s", order_status_name(old.status));
        reject_code(p, from, req->order_number, KB_ERR_ORDER_CLOSED, detail);
    } else if (!order_status_can_move(old.status, req->status)) {
        snprintf(detail, sizeof detail, "%s -> %s is not allowed", order_status_name(old.status),
                 order_status_name(req->status));
        reject_code(p, from, req->order_number, KB_ERR_ILLEGAL_TRANSITION, detail);
    } else {
        int64_t seq = next_seq(p, from->tenant);
        cJSON *order = seq < 0 ? NULL : cJSON_Parse(old.doc); /* NULL: rejected below as unavailable */
        char now[32];
        kb_iso_time(now, sizeof now);
        int closing = !order_status_is_open(req->status);
        char *doc = NULL, *event = NULL;
        if (order) {
            order_stations_follow(order, old.status, req->status);
            set_item(order, "status", cJSON_CreateString(order_status_name(req->status)));
            set_item(order, "seq", cJSON_CreateNumber((double)seq));
            set_item(order, "updated_at", cJSON_CreateString(now));
            doc = cJSON_PrintUnformatted(order);
            event = event_json(closing ? "closed" : "status", req->order_number, req->status, old.status, seq,
                               old.created_seq, now, from->device, NULL);
        }
        journal_order state = {.status = req->status, .seq = seq, .created_seq = old.created_seq, .doc = doc,
                               .closed_at_ms = closing ? journal_wall_ms() : 0};
        memcpy(state.fingerprint, old.fingerprint, sizeof state.fingerprint);
        apply_change(p, from, req->order_number, &state, closing ? NULL : doc, event, started);
        cJSON_Delete(order);
        free(doc);
        free(event);
    }
    free(old.doc);
}

/* A station's report of its part: the part moves, and the order with it
 * when that follows (order_stations.h); one change, one seq, one event. */
static void handle_station(kb_pipeline *p, const kb_origin *from, order_request *req, double started)
{
    if (from->station[0] && strcmp(from->station, req->station) != 0) {
        char detail[ORDER_DETAIL_MAX];
        snprintf(detail, sizeof detail, "this screen is station %s; it may report only that station", from->station);
        reject_code(p, from, req->order_number, KB_ERR_WRONG_STATION, detail);
        return;
    }
    journal_order old = {0};
    if (find_order(p, from, req->order_number, &old) != 1) return;
    cJSON *order = cJSON_Parse(old.doc);
    order_status to = old.status;
    station_move move = order ? order_station_move(order, old.status, req->station, req->status, &to) : STATION_UNKNOWN;
    char detail[ORDER_DETAIL_MAX];
    if (!order) {
        reject_code(p, from, req->order_number, KB_ERR_JOURNAL_UNAVAILABLE, "out of memory");
    } else if (!order_status_is_open(old.status)) {
        snprintf(detail, sizeof detail, "the order is already %s", order_status_name(old.status));
        reject_code(p, from, req->order_number, KB_ERR_ORDER_CLOSED, detail);
    } else if (move == STATION_UNKNOWN) {
        snprintf(detail, sizeof detail, "order %s has nothing for station %s", req->order_number, req->station);
        reject_code(p, from, req->order_number, KB_ERR_UNKNOWN_STATION, detail);
    } else if (move == STATION_UNCHANGED) {
        p->status->duplicates++;
        hold_ack(p, from, req->order_number, old.seq, old.status, 1, 0, started);
    } else {
        int64_t seq = next_seq(p, from->tenant);
        char now[32];
        kb_iso_time(now, sizeof now);
        char *doc = NULL, *event = NULL;
        if (seq >= 0) {
            set_item(order, "status", cJSON_CreateString(order_status_name(to)));
            set_item(order, "seq", cJSON_CreateNumber((double)seq));
            set_item(order, "updated_at", cJSON_CreateString(now));
            doc = cJSON_PrintUnformatted(order);
            event = station_event_json(req->order_number, to, old.status, req->station, req->status, seq,
                                       old.created_seq, now, from->device);
        }
        journal_order state = {.status = to, .seq = seq, .created_seq = old.created_seq, .doc = doc};
        memcpy(state.fingerprint, old.fingerprint, sizeof state.fingerprint);
        apply_change(p, from, req->order_number, &state, doc, event, started);
        free(doc);
        free(event);
    }
    cJSON_Delete(order);
    free(old.doc);
}

/* A station-bound kitchen's whole-order status: preparing and ready are its
 * part's; accepted (a legacy kitchen's receipt) stays whole; closing the
 * order is the expo's or the POS's. Returns 0 if the request goes on. */
static int bound_whole_order(kb_pipeline *p, const kb_origin *from, order_request *req)
{
    if (!from->station[0] || req->kind != ORDER_REQ_STATUS) return 0;
    if (req->status == ORDER_STATUS_PREPARING || req->status == ORDER_STATUS_READY) {
        req->kind = ORDER_REQ_STATION;
        snprintf(req->station, sizeof req->station, "%s", from->station);
        return 0;
    }
    if (req->status == ORDER_STATUS_ACCEPTED) return 0;
    reject_code(p, from, req->order_number, KB_ERR_WRONG_STATION,
                "a station screen bumps its own part; the expo or the POS closes the order");
    return -1;
}

int pipeline_origin(kb_pipeline *p, const char *tenant, const char *username, kb_origin *out)
{
    const registry *r = *p->registry;
    const registry_device *dev = registry_find_device(r, username);
    const registry_tenant *t = dev ? registry_tenant_of(r, dev) : NULL;
    if (!t || strcmp(t->id, tenant) != 0 || dev->role == DEVICE_ADMIN) return -1;
    memset(out, 0, sizeof *out);
    snprintf(out->tenant, sizeof out->tenant, "%s", tenant);
    snprintf(out->device, sizeof out->device, "%s", dev->username);
    out->role = dev->role;
    const char *station = registry_device_station(r, dev);
    if (station) snprintf(out->station, sizeof out->station, "%s", station);
    return 0;
}

static void handle(kb_pipeline *p, const kb_origin *from, const void *bytes, size_t len, int receipt)
{
    double started = kb_now_ms();
    order_request req;
    order_rejection rej;
    order_source source = from->role == DEVICE_POS ? ORDER_SOURCE_POS : ORDER_SOURCE_KITCHEN;
    if (order_request_parse(bytes, len, source, from->tenant, &req, &rej) != KB_OK) {
        reject(p, from, &rej);
        return;
    }
    if (bound_whole_order(p, from, &req) != 0) {
        /* rejected */
    } else if (req.kind == ORDER_REQ_CREATE) {
        handle_create(p, from, &req, started);
    } else if (req.kind == ORDER_REQ_STATION) {
        handle_station(p, from, &req, started);
    } else {
        handle_status(p, from, &req, started, receipt && req.status == ORDER_STATUS_ACCEPTED);
    }
    order_request_free(&req);
    /* A change left a batch open, or an ack is held (a duplicate's, ready
     * at once): the loop's owner commits and answers promptly. */
    if ((journal_has_uncommitted(p->journal) || p->acks.length) && p->commit_soon) p->commit_soon(p->commit_ctx);
}

void pipeline_submit(kb_pipeline *p, const kb_origin *from, const void *bytes, size_t len)
{
    handle(p, from, bytes, len, 0);
}

void pipeline_receipt(kb_pipeline *p, const kb_origin *from, const void *bytes, size_t len)
{
    handle(p, from, bytes, len, 1);
}

void pipeline_reject(kb_pipeline *p, const kb_origin *from, const char *order_number, kb_error e, const char *detail)
{
    reject_code(p, from, order_number, e, detail);
}

static void release_acks(kb_pipeline *p)
{
    ack_entry *e;
    uint64_t committed = journal_committed_epoch(p->journal);
    while ((e = ack_queue_pop_ready(&p->acks, committed))) {
        status_record_ack_latency(p->status, kb_now_ms() - e->started_ms);
        kb_ack ack = {.result = e->duplicate ? KB_ACK_DUPLICATE : KB_ACK_ACCEPTED, .order_number = e->order_number,
                      .seq = e->seq, .status = e->status};
        if (e->from.reply) e->from.reply(e->from.reply_ctx, &e->from, &ack);
        free(e);
    }
}

void pipeline_flush(kb_pipeline *p)
{
    if (journal_has_uncommitted(p->journal)) {
        uint64_t epoch = journal_open_epoch(p->journal);
        if (journal_commit(p->journal) != 0) {
            log_error("journal commit failed: %s", journal_last_error(p->journal));
            status_journal_failed(p->status, journal_last_error(p->journal));
            reject_epoch(p, epoch, "the bridge cannot write its journal; send it again later");
        } else if (status_journal_recovered(p->status)) {
            log_info("journal writable again");
        }
    }
    release_acks(p);
}

void pipeline_delivered(kb_pipeline *p, int delivery)
{
    /* Most confirmations are for events and acks: they change no entry, and
     * must not cost a walk of the queue. */
    if (ack_queue_delivered(&p->acks, delivery)) release_acks(p);
}

static int republish_one(void *ctx, const char *tenant, const char *order_number, const char *doc, int64_t seq)
{
    (void)seq;
    const kb_order_sink *s = ctx;
    return s->publish_state(s->ctx, tenant, order_number, doc, NULL) != 0;
}

void pipeline_republish_open(kb_pipeline *p)
{
    if (!p->sink.publish_state) return;
    if (journal_for_each_open(p->journal, NULL, republish_one, &p->sink) != 0)
        log_error("cannot re-publish open orders: %s", journal_last_error(p->journal));
}

void pipeline_reconcile(kb_pipeline *p, const char *tenant, const char *order_number, const void *payload, size_t len)
{
    if (len == 0 || !p->sink.publish_state) return;
    journal_order cur = {0};
    int found = journal_get_order(p->journal, tenant, order_number, &cur);
    if (found < 0) return;
    if (!found || !order_status_is_open(cur.status)) {
        log_info("clearing stale retained order %s/%s", tenant, order_number);
        p->sink.publish_state(p->sink.ctx, tenant, order_number, NULL, NULL);
    } else {
        cJSON *held = json_parse_exact(payload, len);
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(held, "seq");
        if (!cJSON_IsNumber(seq) || (int64_t)seq->valuedouble != cur.seq) {
            log_info("correcting retained order %s/%s", tenant, order_number);
            p->sink.publish_state(p->sink.ctx, tenant, order_number, cur.doc, NULL);
        }
        cJSON_Delete(held);
    }
    free(cur.doc);
}

kb_pipeline *pipeline_new(journal *j, kb_status *status, registry *const *reg, int64_t dedupe_window_ms)
{
    kb_pipeline *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->journal = j;
    p->status = status;
    p->registry = reg;
    p->dedupe_window_ms = dedupe_window_ms;
    return p;
}

void pipeline_free(kb_pipeline *p)
{
    if (!p) return;
    pipeline_flush(p);
    ack_queue_clear(&p->acks);
    while (p->seqs) {
        seq_entry *next = p->seqs->next;
        free(p->seqs);
        p->seqs = next;
    }
    free(p);
}

void pipeline_set_sink(kb_pipeline *p, const kb_order_sink *sink) { p->sink = *sink; }

int pipeline_observe(kb_pipeline *p, kb_change_fn fn, void *ctx)
{
    if (p->n_observers >= PIPELINE_OBSERVERS_MAX) return -1;
    p->observers[p->n_observers].fn = fn;
    p->observers[p->n_observers].ctx = ctx;
    p->n_observers++;
    return 0;
}

void pipeline_set_commit_hook(kb_pipeline *p, void (*commit_soon)(void *ctx), void *ctx)
{
    p->commit_soon = commit_soon;
    p->commit_ctx = ctx;
}

journal *pipeline_journal(kb_pipeline *p) { return p->journal; }

long pipeline_acks_pending(const kb_pipeline *p) { return p->acks.length; }
