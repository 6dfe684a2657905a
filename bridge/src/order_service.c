/* order_service.c - see order_service.h for the path of a change. */
#include "order_service.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "json_util.h"
#include "legacy_gateway.h"
#include "log.h"
#include "order_fingerprint.h"
#include "order_publish.h"

/* Per-tenant last seq, authoritative in memory so a rolled-back batch never
 * hands out the same seq twice (seq never goes backwards for a kitchen). */
typedef struct seq_entry {
    struct seq_entry *next;
    char tenant[REGISTRY_ID_MAX + 1];
    int64_t last;
} seq_entry;

static seq_entry *seqs;

/* The tenant's entry, read from the journal the first time; NULL if out of
 * memory or the journal cannot be read (nothing is cached then: a guessed
 * seq would collide with the tenant's journaled events). */
static seq_entry *seq_of(bridge *b, const char *tenant)
{
    for (seq_entry *s = seqs; s; s = s->next)
        if (strcmp(s->tenant, tenant) == 0) return s;
    int64_t last = journal_last_seq(b->journal, tenant);
    if (last < 0) return NULL;
    seq_entry *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    strcpy(s->tenant, tenant);
    s->last = last;
    s->next = seqs;
    seqs = s;
    return s;
}

/* The seq for a new change, or -1 if out of memory or the journal failed. */
static int64_t next_seq(bridge *b, const char *tenant)
{
    seq_entry *s = seq_of(b, tenant);
    return s ? ++s->last : -1;
}

int64_t order_service_last_seq(bridge *b, const char *tenant)
{
    seq_entry *s = seq_of(b, tenant);
    return s ? s->last : journal_last_seq(b->journal, tenant);
}

static void reject(bridge *b, const char *tenant, const registry_device *dev, uint32_t reply,
                   const order_rejection *rej)
{
    b->stats.rejected[rej->error]++;
    log_info("rejected %s from %s (order %s): %s", kb_error_code(rej->error), dev->username,
             rej->order_number[0] ? rej->order_number : "-", rej->detail);
    order_publish_rejection(b, tenant, dev->role, dev->username, rej, reply);
}

static void reject_code(bridge *b, const char *tenant, const registry_device *dev, uint32_t reply,
                        const char *order_number, kb_error e, const char *detail)
{
    order_rejection rej = {.error = e};
    snprintf(rej.order_number, sizeof rej.order_number, "%s", order_number);
    snprintf(rej.detail, sizeof rej.detail, "%s", detail);
    reject(b, tenant, dev, reply, &rej);
}

/* Turns a queued ack of a failed batch into a rejection. The device comes
 * from the entry itself: an anonymous legacy client is in no registry. */
static void reject_entry(bridge *b, const ack_entry *e, const char *detail)
{
    registry_device from = {.role = e->role, .tenant = -1};
    memcpy(from.username, e->device, sizeof from.username);
    reject_code(b, e->tenant, &from, e->reply, e->order_number, KB_ERR_JOURNAL_UNAVAILABLE, detail);
}

/* The epoch an ack must wait for: the open batch if any change is in it. */
static uint64_t wait_epoch(bridge *b)
{
    return journal_has_uncommitted(b->journal) ? journal_open_epoch(b->journal)
                                               : journal_committed_epoch(b->journal);
}

static void queue_ack(bridge *b, const char *tenant, const registry_device *dev, uint32_t reply,
                      const char *order_number, int64_t seq, order_status status, int duplicate, int mid,
                      double started)
{
    ack_entry *e = calloc(1, sizeof *e);
    if (!e) {
        log_error("out of memory queueing the ack for %s", order_number);
        return;
    }
    e->epoch = wait_epoch(b);
    e->mid = mid;
    e->seq = seq;
    e->status = status;
    e->duplicate = duplicate;
    e->started_ms = started;
    strcpy(e->tenant, tenant);
    strcpy(e->device, dev->username);
    e->role = dev->role;
    e->reply = reply;
    strcpy(e->order_number, order_number);
    if (ack_queue_push(&b->acks, e) != 0) {
        log_error("out of memory queueing the ack for %s", order_number);
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

static char *event_json(const char *event, const char *order_number, order_status status,
                        order_status previous, int64_t seq, const char *at, const char *by,
                        cJSON *order)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "event", event);
    cJSON_AddStringToObject(ev, "order_number", order_number);
    cJSON_AddStringToObject(ev, "status", order_status_name(status));
    if (previous != ORDER_STATUS_INVALID)
        cJSON_AddStringToObject(ev, "previous", order_status_name(previous));
    cJSON_AddNumberToObject(ev, "seq", (double)seq);
    cJSON_AddStringToObject(ev, "at", at);
    cJSON_AddStringToObject(ev, "by", by);
    if (order) cJSON_AddItemReferenceToObject(ev, "order", order);
    char *text = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    return text;
}

/* Journals a change; on failure the whole open batch is lost, so every ack
 * waiting on it is turned into a rejection. Returns 0 or -1. */
static int journal_change(bridge *b, const char *tenant, const char *order_number,
                          const journal_order *state, const char *event)
{
    if (journal_put_change(b->journal, tenant, order_number, state, event) == 0) return 0;
    uint64_t epoch = journal_open_epoch(b->journal);
    log_error("journal write failed: %s", journal_last_error(b->journal));
    journal_abort(b->journal);
    health_journal_failed(b, journal_last_error(b->journal));
    ack_entry *e;
    while ((e = ack_queue_pop_epoch(&b->acks, epoch))) {
        reject_entry(b, e, "the bridge cannot write its journal; the order was not recorded, send it again later");
        free(e);
    }
    return -1;
}

/* The retained state and the event of a change. A new or changed order's
 * state goes first (it is what screens show); when an order closes the event
 * goes first, so a screen that sees the state cleared already knows whether
 * it was served or cancelled. */
static int publish_change(bridge *b, const char *tenant, const char *order_number, const char *state,
                          const char *event, int *mid)
{
    if (!state && order_publish_event(b, tenant, event) != 0) return -1;
    if (order_publish_state(b, tenant, order_number, state, mid) != 0) return -1;
    if (state && order_publish_event(b, tenant, event) != 0) return -1;
    return 0;
}

/* Publishes a change (deliver first), writes it into the open journal batch
 * and queues its ack. `published` is the retained state, NULL to clear it. */
static void apply_change(bridge *b, const char *tenant, const registry_device *dev, uint32_t reply,
                         const char *order_number, const journal_order *state, const char *published,
                         const char *event, double started)
{
    int mid = 0;
    if (!state->doc || !event) {
        reject_code(b, tenant, dev, reply, order_number, KB_ERR_JOURNAL_UNAVAILABLE, "out of memory");
    } else if (publish_change(b, tenant, order_number, published, event, &mid) != 0) {
        reject_code(b, tenant, dev, reply, order_number, KB_ERR_JOURNAL_UNAVAILABLE,
                    "the broker connection failed; send it again");
    } else if (journal_change(b, tenant, order_number, state, event) != 0) {
        reject_code(b, tenant, dev, reply, order_number, KB_ERR_JOURNAL_UNAVAILABLE,
                    "the bridge cannot write its journal; the order was not recorded, send it again later");
    } else {
        if (state->seq == state->created_seq) b->stats.accepted++;
        else b->stats.status_changes++;
        queue_ack(b, tenant, dev, reply, order_number, state->seq, state->status, 0, mid, started);
        /* Legacy WebSocket clients see the change when MQTT subscribers do. */
        legacy_gateway_order_changed(b, tenant, state->doc, state->seq == state->created_seq);
    }
}

/* The journal's record of an order: 1 found, 0 not, -1 after telling the
 * sender the journal could not be read. */
static int lookup(bridge *b, const char *tenant, const registry_device *dev, uint32_t reply,
                  const char *order_number, journal_order *out)
{
    int found = journal_get_order(b->journal, tenant, order_number, out);
    if (found < 0)
        reject_code(b, tenant, dev, reply, order_number, KB_ERR_JOURNAL_UNAVAILABLE, "journal read failed");
    return found;
}

/* What a submitted order is, next to the latest instance of its number:
 * the same content while that one is open, or closed within the dedupe
 * window, is a re-send (duplicate); other content while it is open is a
 * clash (order_number_in_use); anything else is a new instance. */
typedef enum { SUBMIT_NEW, SUBMIT_DUPLICATE, SUBMIT_IN_USE } submit_kind;

static submit_kind classify_submit(const bridge *b, const journal_order *latest, const char *fingerprint)
{
    int open = order_status_is_open(latest->status);
    if (strcmp(latest->fingerprint, fingerprint) == 0 &&
        (open || journal_wall_ms() - latest->closed_at_ms <= b->config.dedupe_window_ms))
        return SUBMIT_DUPLICATE;
    return open ? SUBMIT_IN_USE : SUBMIT_NEW;
}

static void handle_create(bridge *b, const char *tenant, const registry_device *dev, uint32_t reply,
                          order_request *req, double started)
{
    char fingerprint[ORDER_FINGERPRINT_HEX + 1];
    if (order_fingerprint(req->order, fingerprint) != 0) {
        reject_code(b, tenant, dev, reply, req->order_number, KB_ERR_JOURNAL_UNAVAILABLE, "out of memory");
        return;
    }
    journal_order old = {0};
    int found = lookup(b, tenant, dev, reply, req->order_number, &old);
    if (found < 0) return;
    submit_kind kind = found ? classify_submit(b, &old, fingerprint) : SUBMIT_NEW;
    if (kind == SUBMIT_DUPLICATE) {
        b->stats.duplicates++;
        queue_ack(b, tenant, dev, reply, req->order_number, old.created_seq, old.status, 1, 0, started);
    } else if (kind == SUBMIT_IN_USE) {
        char detail[ORDER_DETAIL_MAX];
        snprintf(detail, sizeof detail,
                 "order %s is open (%s, seq %lld) with other content; send it under another number", req->order_number,
                 order_status_name(old.status), (long long)old.seq);
        reject_code(b, tenant, dev, reply, req->order_number, KB_ERR_ORDER_NUMBER_IN_USE, detail);
    }
    free(old.doc);
    if (kind != SUBMIT_NEW) return;
    int64_t seq = next_seq(b, tenant);
    if (seq < 0) {
        reject_code(b, tenant, dev, reply, req->order_number, KB_ERR_JOURNAL_UNAVAILABLE,
                    "the journal cannot be read, or out of memory");
        return;
    }
    char now[32];
    bridge_iso_time(now, sizeof now);
    cJSON *order = req->order;
    set_item(order, "status", cJSON_CreateString("new"));
    set_item(order, "seq", cJSON_CreateNumber((double)seq));
    set_item(order, "created_seq", cJSON_CreateNumber((double)seq));
    set_item(order, "received_at", cJSON_CreateString(now));
    set_item(order, "updated_at", cJSON_CreateString(now));
    char *doc = cJSON_PrintUnformatted(order);
    char *event = event_json("created", req->order_number, ORDER_STATUS_NEW, ORDER_STATUS_INVALID, seq,
                             now, dev->username, order);
    journal_order state = {.status = ORDER_STATUS_NEW, .seq = seq, .created_seq = seq, .doc = doc};
    memcpy(state.fingerprint, fingerprint, sizeof state.fingerprint);
    apply_change(b, tenant, dev, reply, req->order_number, &state, doc, event, started);
    free(doc);
    free(event);
}

/* receipt: a legacy kitchen's acknowledgement of an order it was sent. A new
 * order becomes accepted; any later state is answered duplicate with that
 * state, and like every ack it waits for the batch that state is in. */
static void handle_status(bridge *b, const char *tenant, const registry_device *dev, uint32_t reply,
                          order_request *req, double started, int receipt)
{
    journal_order old = {0};
    int found = lookup(b, tenant, dev, reply, req->order_number, &old);
    if (found < 0) return;
    if (!found) {
        reject_code(b, tenant, dev, reply, req->order_number, KB_ERR_UNKNOWN_ORDER, "no such order for this tenant");
        return;
    }
    char detail[ORDER_DETAIL_MAX];
    if (old.status == req->status || (receipt && old.status != ORDER_STATUS_NEW)) {
        b->stats.duplicates++;
        queue_ack(b, tenant, dev, reply, req->order_number, old.seq, old.status, 1, 0, started);
    } else if (!order_status_is_open(old.status)) {
        snprintf(detail, sizeof detail, "the order is already %s", order_status_name(old.status));
        reject_code(b, tenant, dev, reply, req->order_number, KB_ERR_ORDER_CLOSED, detail);
    } else if (!order_status_can_move(old.status, req->status)) {
        snprintf(detail, sizeof detail, "%s -> %s is not allowed", order_status_name(old.status),
                 order_status_name(req->status));
        reject_code(b, tenant, dev, reply, req->order_number, KB_ERR_ILLEGAL_TRANSITION, detail);
    } else {
        int64_t seq = next_seq(b, tenant);
        cJSON *order = seq < 0 ? NULL : cJSON_Parse(old.doc); /* NULL: rejected below as unavailable */
        char now[32];
        bridge_iso_time(now, sizeof now);
        int closing = !order_status_is_open(req->status);
        char *doc = NULL, *event = NULL;
        if (order) {
            set_item(order, "status", cJSON_CreateString(order_status_name(req->status)));
            set_item(order, "seq", cJSON_CreateNumber((double)seq));
            set_item(order, "updated_at", cJSON_CreateString(now));
            doc = cJSON_PrintUnformatted(order);
            event = event_json(closing ? "closed" : "status", req->order_number, req->status, old.status,
                               seq, now, dev->username, NULL);
        }
        journal_order state = {.status = req->status, .seq = seq, .created_seq = old.created_seq, .doc = doc,
                               .closed_at_ms = closing ? journal_wall_ms() : 0};
        memcpy(state.fingerprint, old.fingerprint, sizeof state.fingerprint);
        apply_change(b, tenant, dev, reply, req->order_number, &state, closing ? NULL : doc, event, started);
        cJSON_Delete(order);
        free(doc);
        free(event);
    }
    free(old.doc);
}

void order_service_handle(bridge *b, const char *tenant, const char *device, const void *payload, size_t len,
                          uint32_t reply)
{
    const registry_device *dev = registry_find_device(b->registry, device);
    const registry_tenant *t = dev && dev->tenant >= 0 ? &b->registry->tenants[dev->tenant] : NULL;
    if (!t || strcmp(t->id, tenant) != 0 || dev->role == DEVICE_ADMIN) {
        /* The broker's ACLs make this impossible for a registered device; a
         * device removed from the registry a moment ago may still get here. */
        log_warn("ignored a message from %s on tenant %s: not a device of that tenant", device, tenant);
        return;
    }
    order_service_handle_as(b, tenant, dev, payload, len, reply);
}

static void handle(bridge *b, const char *tenant, const registry_device *dev, const void *payload, size_t len,
                   uint32_t reply, int receipt)
{
    double started = bridge_now_ms();
    order_request req;
    order_rejection rej;
    order_source source = dev->role == DEVICE_POS ? ORDER_SOURCE_POS : ORDER_SOURCE_KITCHEN;
    if (order_request_parse(payload, len, source, tenant, &req, &rej) != KB_OK) {
        reject(b, tenant, dev, reply, &rej);
        return;
    }
    if (req.kind == ORDER_REQ_CREATE) handle_create(b, tenant, dev, reply, &req, started);
    else handle_status(b, tenant, dev, reply, &req, started, receipt && req.status == ORDER_STATUS_ACCEPTED);
    order_request_free(&req);
    /* Whatever opened the batch, the app commits it at once, not whichever
     * transport reads next. */
    if (journal_has_uncommitted(b->journal) && b->commit_soon) b->commit_soon(b);
}

void order_service_handle_as(bridge *b, const char *tenant, const registry_device *dev, const void *payload,
                             size_t len, uint32_t reply)
{
    handle(b, tenant, dev, payload, len, reply, 0);
}

void order_service_receipt(bridge *b, const char *tenant, const registry_device *dev, const void *payload,
                           size_t len, uint32_t reply)
{
    handle(b, tenant, dev, payload, len, reply, 1);
}

void order_service_reject(bridge *b, const char *tenant, const registry_device *dev, uint32_t reply,
                          const char *order_number, kb_error e, const char *detail)
{
    reject_code(b, tenant, dev, reply, order_number, e, detail);
}

static void release_acks(bridge *b)
{
    ack_entry *e;
    uint64_t committed = journal_committed_epoch(b->journal);
    while ((e = ack_queue_pop_ready(&b->acks, committed))) {
        health_record_ack_latency(b, bridge_now_ms() - e->started_ms);
        order_publish_ack(b, e);
        free(e);
    }
}

void order_service_flush(bridge *b)
{
    if (journal_has_uncommitted(b->journal)) {
        uint64_t epoch = journal_open_epoch(b->journal);
        if (journal_commit(b->journal) != 0) {
            log_error("journal commit failed: %s", journal_last_error(b->journal));
            health_journal_failed(b, journal_last_error(b->journal));
            ack_entry *e;
            while ((e = ack_queue_pop_epoch(&b->acks, epoch))) {
                reject_entry(b, e, "the bridge cannot write its journal; send it again later");
                free(e);
            }
        } else {
            health_journal_recovered(b);
        }
    }
    release_acks(b);
}

void order_service_puback(bridge *b, int mid)
{
    /* Most PUBACKs are for events and acks: they change no entry, and must
     * not cost a walk of the queue. */
    if (ack_queue_puback(&b->acks, mid)) release_acks(b);
}

static int republish_one(void *ctx, const char *tenant, const char *order_number, const char *doc, int64_t seq)
{
    (void)seq;
    return order_publish_state(ctx, tenant, order_number, doc, NULL) != 0;
}

void order_service_republish_open(bridge *b)
{
    if (journal_for_each_open(b->journal, NULL, republish_one, b) != 0)
        log_error("cannot re-publish open orders: %s", journal_last_error(b->journal));
}

void order_service_reconcile(bridge *b, const char *tenant, const char *order_number, const void *payload,
                             size_t len)
{
    if (len == 0) return;
    journal_order cur = {0};
    int found = journal_get_order(b->journal, tenant, order_number, &cur);
    if (found < 0) return;
    if (!found || !order_status_is_open(cur.status)) {
        log_info("clearing stale retained order %s/%s", tenant, order_number);
        order_publish_state(b, tenant, order_number, NULL, NULL);
    } else {
        cJSON *held = json_parse_exact(payload, len);
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(held, "seq");
        if (!cJSON_IsNumber(seq) || (int64_t)seq->valuedouble != cur.seq) {
            log_info("correcting retained order %s/%s", tenant, order_number);
            order_publish_state(b, tenant, order_number, cur.doc, NULL);
        }
        cJSON_Delete(held);
    }
    free(cur.doc);
}

void order_service_shutdown(bridge *b)
{
    order_service_flush(b);
    ack_queue_clear(&b->acks);
    while (seqs) {
        seq_entry *next = seqs->next;
        free(seqs);
        seqs = next;
    }
}
