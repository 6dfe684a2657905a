/* journal.h - where accepted orders and changes are journaled (SQLite, WAL).
 *
 * The journal, not the broker's snapshot file, is the record of open orders.
 * Writes are grouped: the first write after a commit opens a transaction (a
 * "batch", numbered by its epoch) and journal_commit() makes the whole batch
 * durable with one fsync. The order service publishes to kitchens before the
 * commit and acks the POS only after it, so delivery never waits on the disk.
 *
 * Invariant: an ack is sent for a change only when journal_committed_epoch()
 * has reached the epoch the change was written in. */
#ifndef KB_JOURNAL_H
#define KB_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "order_status.h"

typedef struct journal journal;

/* One instance of an order: created under an order number, open until it is
 * served or cancelled. */
typedef struct {
    order_status status;
    int64_t seq;          /* seq of the latest change */
    int64_t created_seq;  /* seq of the creation: the instance's identity */
    char *doc;            /* the full order JSON as last published; malloc'd */
    char fingerprint[65]; /* order_fingerprint() of what the POS submitted */
    int64_t closed_at_ms; /* wall clock when it closed (journal_wall_ms); 0 while open */
} journal_order;

int journal_open(journal **out, const char *path, char *err, size_t errlen);
void journal_close(journal *j);

/* The latest instance of an order number (the open one, if any): 1 found
 * (free out->doc), 0 not found, -1 error. */
int journal_get_order(journal *j, const char *tenant, const char *order_number, journal_order *out);
/* Writes an instance's state (keyed by tenant and created_seq; a new
 * created_seq is a new instance) and the event that produced it into the
 * open batch. closed_at_ms is stored when the status is closed. */
int journal_put_change(journal *j, const char *tenant, const char *order_number,
                       const journal_order *state, const char *event_doc);
/* Highest seq ever written for a tenant (0 if none), -1 on a read error. */
int64_t journal_last_seq(journal *j, const char *tenant);
/* After journal_put_change: the ticket time (created -> ready, ms) if that
 * change made its order ready for the first time, else -1. */
int64_t journal_last_ticket_ms(const journal *j);
/* The journal's file, for a reader of its own (core/reports.c). */
const char *journal_path(const journal *j);

/* Wall-clock milliseconds since 1970: the journal's time for closed_at. */
int64_t journal_wall_ms(void);

uint64_t journal_open_epoch(journal *j);      /* epoch of writes made now */
uint64_t journal_committed_epoch(journal *j); /* last epoch made durable */
uint64_t journal_commit_count(journal *j);    /* batches committed so far */
int journal_has_uncommitted(journal *j);
/* Commits the open batch. On failure the batch is rolled back, -1 returned,
 * and the caller must fail every change of that epoch. */
int journal_commit(journal *j);
/* Rolls back the open batch after a failed write. */
void journal_abort(journal *j);

typedef int (*journal_order_fn)(void *ctx, const char *tenant, const char *order_number,
                                const char *doc, int64_t seq);
/* Calls fn for every open order of `tenant` (NULL: of every tenant) in seq
 * order; stops early if fn returns nonzero. */
int journal_for_each_open(journal *j, const char *tenant, journal_order_fn fn, void *ctx);
/* Per tenant with open orders: how many, and the received_at (ISO, the
 * bridge's clock; NULL if unknown) of its oldest. */
typedef int (*journal_count_fn)(void *ctx, const char *tenant, int64_t open_orders, const char *oldest_received_at);
int journal_count_open(journal *j, journal_count_fn fn, void *ctx);
int64_t journal_open_total(journal *j);

/* A tiny durable write, to find out whether a failed journal works again. */
int journal_probe(journal *j);
typedef int (*journal_event_fn)(void *ctx, int64_t seq, const char *doc);
/* Calls fn for up to `limit` events of `tenant` with seq > after, in seq
 * order; stops early if fn returns nonzero. */
int journal_events_after(journal *j, const char *tenant, int64_t after, int limit, journal_event_fn fn,
                         void *ctx);
/* Retention. Of each tenant, the highest seq that may be deleted (head
 * office has everything up to it); INT64_MAX when nothing waits for it. */
typedef int64_t (*journal_prunable_fn)(void *ctx, const char *tenant);
typedef struct {
    int64_t orders; /* instances deleted */
    int64_t events; /* their events */
} journal_prune_stats;
/* Deletes up to `limit` closed instances that closed before cutoff_ms (wall
 * clock) and whose last seq is at most prunable(tenant), with their events,
 * in one transaction of its own; then returns freed pages to the file
 * system. Does nothing while a batch is open. 0 (see *st), or -1 with
 * nothing deleted. Call it from the event loop: with limit in the hundreds
 * it takes a few milliseconds. */
int journal_prune(journal *j, int64_t cutoff_ms, int limit, journal_prunable_fn prunable, void *ctx,
                  journal_prune_stats *st);
typedef struct {
    int64_t bytes;            /* the file and its WAL on disk */
    int64_t orders, events;   /* rows */
    int64_t oldest_closed_ms; /* closed_at of the oldest closed instance, 0 if none */
} journal_size;
int journal_stats(journal *j, journal_size *out);

/* For a core module that keeps a table of its own in the journal's file
 * (core/print_queue.c): the connection, and opening the batch, so its
 * writes commit or roll back with the changes written in the same batch.
 * journal_begin: 0, or -1 (see journal_last_error). */
struct sqlite3 *journal_db(journal *j);
int journal_begin(journal *j);

/* Bytes of memory SQLite holds right now (page cache, statements). */
int64_t journal_memory_used(void);
const char *journal_last_error(journal *j);

#endif
