/* order_pipeline.h - the one path every order change takes, knowing no
 * transport.
 *
 *   pipeline_submit(origin, bytes)
 *     -> validate (order_validate.c)          model, pure
 *     -> look up the latest instance          journal.c
 *     -> decide: new, duplicate, in use, a lifecycle move or a rejection
 *     -> sink->publish_state / publish_event  deliver first
 *     -> observers (e.g. legacy clients)      see it when subscribers do
 *     -> write into the open journal batch
 *     -> hold the ack (ack_queue.c)
 *   pipeline_flush(): commit the batch (one fsync for all of it), then give
 *     every held ack whose batch is committed and whose state the sink has
 *     confirmed delivered (pipeline_delivered) to its origin's reply.
 *
 * Invariants:
 * - An "accepted" or "duplicate" ack is given only after the change it names
 *   is committed and delivered; a failed write or commit turns every ack of
 *   that batch into a journal_unavailable rejection, and nothing of it stays
 *   in the journal.
 * - Seqs are per tenant, kept in memory from the journal's highest: a rolled
 *   back batch never hands out the same seq twice.
 * - Rejections change nothing and are given at once.
 * - A request that leaves a batch open or an ack held calls the commit hook,
 *   so whoever owns the loop commits and answers promptly, whichever
 *   transport it came by.
 *
 * Everything runs on one thread; every callback below is called from within
 * the pipeline call that causes it, never later, and borrows its arguments
 * for the call only. */
#ifndef KB_ORDER_PIPELINE_H
#define KB_ORDER_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "ack.h"
#include "journal.h"
#include "registry.h"
#include "status.h"

typedef struct kb_pipeline kb_pipeline;

/* Where changes go out. publish_state publishes an order's retained state
 * (doc NULL clears it) and sets *delivery to a non-zero token if the ack
 * must wait for pipeline_delivered(token), else 0; `delivery` is NULL when
 * nobody waits (republish, reconcile). publish_event sends a change's event.
 * Both return 0, or -1 when the change cannot go out (it is then rejected). */
typedef struct {
    int (*publish_state)(void *ctx, const char *tenant, const char *order_number, const char *doc, int *delivery);
    int (*publish_event)(void *ctx, const char *tenant, const char *event_doc);
    void *ctx;
    /* Optional: an order is closing; `doc` is its last state (served or
     * cancelled), called after its event and before the state is cleared,
     * for readers that get no events (station screens). */
    int (*publish_closing)(void *ctx, const char *tenant, const char *order_number, const char *doc);
} kb_order_sink;

/* An accepted change: `doc` is the order as published (its retained state,
 * also when closing), `created` is 1 for a new order. */
typedef void (*kb_change_fn)(void *ctx, const char *tenant, const char *doc, int created);

#define PIPELINE_OBSERVERS_MAX 4

/* Borrows journal, status and *registry (the caller's current registry,
 * read at each request, so a reload needs no call here). NULL if out of
 * memory. */
kb_pipeline *pipeline_new(journal *j, kb_status *status, registry *const *reg, int64_t dedupe_window_ms);
/* Commits what is open, answers what can be answered, drops the rest. */
void pipeline_free(kb_pipeline *p);

void pipeline_set_sink(kb_pipeline *p, const kb_order_sink *sink);
/* 0, or -1 if PIPELINE_OBSERVERS_MAX are registered. */
int pipeline_observe(kb_pipeline *p, kb_change_fn fn, void *ctx);
/* Called (at most once per request) when a request leaves a batch open or
 * an ack held. */
void pipeline_set_commit_hook(kb_pipeline *p, void (*commit_soon)(void *ctx), void *ctx);

/* Fills `out` (tenant, device, role; no reply yet) for registry device
 * `username` of `tenant`: 0, or -1 if it is not a device of that tenant
 * that may send orders (unknown, another tenant's, an admin). */
int pipeline_origin(kb_pipeline *p, const char *tenant, const char *username, kb_origin *out);

/* One request from `from`: a POS submit or command, a kitchen status. */
void pipeline_submit(kb_pipeline *p, const kb_origin *from, const void *bytes, size_t len);
/* A legacy kitchen's receipt of an order it was sent (a status request for
 * "accepted"): a new order becomes accepted; any later state is answered
 * duplicate with that state, after the batch holding it is committed. */
void pipeline_receipt(kb_pipeline *p, const kb_origin *from, const void *bytes, size_t len);
/* A rejection an adapter decided before the pipeline could be asked (an
 * order no tenant has): counted and answered at once. */
void pipeline_reject(kb_pipeline *p, const kb_origin *from, const char *order_number, kb_error e,
                     const char *detail);

/* Commits the open batch and gives the acks that became ready. */
void pipeline_flush(kb_pipeline *p);
/* The sink delivered the state with this token (for MQTT: a PUBACK). */
void pipeline_delivered(kb_pipeline *p, int delivery);

/* Re-publishes every open order's retained state from the journal. */
void pipeline_republish_open(kb_pipeline *p);
/* A retained state the broker holds: corrected through the sink if the
 * journal disagrees (closed, unknown, or an older seq). */
void pipeline_reconcile(kb_pipeline *p, const char *tenant, const char *order_number, const void *payload,
                        size_t len);

/* The tenant's highest seq so far, -1 if the journal cannot be read. */
int64_t pipeline_last_seq(kb_pipeline *p, const char *tenant);
/* For readers: the journal, and how many acks are held. */
journal *pipeline_journal(kb_pipeline *p);
long pipeline_acks_pending(const kb_pipeline *p);

#endif
