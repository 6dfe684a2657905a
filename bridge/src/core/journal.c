/* journal.c - SQLite implementation of journal.h.
 *
 * Schema (version 2, in meta 'schema'): `orders` holds each order
 * instance's current state, one row per tenant and created_seq. An order
 * number may have many instances over time (a POS that numbers per day), of
 * which at most one is open: the order service creates a new instance only
 * when the number's latest one is closed. Closed instances are kept, with
 * the fingerprint of what the POS sent and when they closed, so a late
 * re-send is still a duplicate within the dedupe window. `events` holds every
 * accepted change in seq order per tenant, for replay, with the created_seq
 * of the instance it belongs to. A version 1 journal (one row per order
 * number) is migrated when it is opened.
 *
 * Retention (journal_prune): a closed instance is deleted with its events,
 * in one transaction, once it closed before the cutoff and its last seq is
 * one the caller allows (head office has it). Since an instance's events
 * all lie between its creation and its close, no event outlives its
 * instance. A tenant's highest seq never goes back: what is deleted raises
 * meta 'seq_floor:<tenant>', which journal_last_seq() counts. The file is in
 * auto_vacuum=INCREMENTAL mode (an older file is converted when opened);
 * each prune hands freed pages back with incremental_vacuum.
 *
 * Reports (core/reports.c) read `order_times`, one row per instance with
 * the wall-clock ms it was created and first accepted, ready and served (or
 * cancelled), and how often it was recalled, and `station_times`, each
 * station part's first ready. Both are written by journal_put_change in the
 * same transaction as the change, from its status and the document's
 * "stations" map (SQLite's json_each on the one document being written:
 * nothing reads documents back in bulk), and pruned with their instance.
 * A journal from before them has no such rows for its older orders: reports
 * start at the upgrade. */
#include "journal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "order_fingerprint.h"

enum { ST_GET, ST_PUT_ORDER, ST_PUT_EVENT, ST_LAST_SEQ, ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
       ST_OPEN_ALL, ST_OPEN_TENANT, ST_COUNT_OPEN, ST_OPEN_TOTAL, ST_EVENTS_AFTER,
       ST_TENANTS, ST_PRUNABLE, ST_DEL_EVENTS, ST_DEL_ORDER, ST_SEQ_FLOOR, ST_COUNT_ORDERS, ST_COUNT_EVENTS,
       ST_OLDEST_CLOSED, ST_TIME_NEW, ST_TIME_STATUS, ST_TIME_STATIONS, ST_DEL_TIMES, ST_DEL_STATION_TIMES,
       ST__COUNT };

static const char *const sql_text[ST__COUNT] = {
    /* INDEXED BY: without statistics SQLite 3.40 prefers the primary key's
     * (tenant) prefix here, for its order, and walks every order of the
     * tenant at each lookup (measured: 20 lookups in a 10,000-order tenant,
     * 153 ms that way, 7 ms by the index). */
    [ST_GET] = "SELECT status, seq, created_seq, doc, fingerprint, closed_at FROM orders INDEXED BY orders_number "
               "WHERE tenant=?1 AND order_number=?2 ORDER BY created_seq DESC LIMIT 1",
    [ST_PUT_ORDER] = "INSERT INTO orders(tenant, order_number, status, open, seq, created_seq, doc, fingerprint, "
                     "closed_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT(tenant, created_seq) DO UPDATE SET "
                     "status=excluded.status, open=excluded.open, seq=excluded.seq, doc=excluded.doc, "
                     "closed_at=excluded.closed_at",
    [ST_PUT_EVENT] = "INSERT INTO events(tenant, seq, doc, created_seq) VALUES(?1,?2,?3,?4)",
    [ST_LAST_SEQ] = "SELECT max(coalesce((SELECT max(seq) FROM events WHERE tenant=?1), 0),"
                    " coalesce((SELECT max(seq) FROM orders WHERE tenant=?1), 0),"
                    " coalesce((SELECT CAST(v AS INTEGER) FROM meta WHERE k='seq_floor:' || ?1), 0))",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_OPEN_ALL] = "SELECT tenant, order_number, doc, seq FROM orders WHERE open=1 ORDER BY tenant, seq",
    [ST_OPEN_TENANT] = "SELECT tenant, order_number, doc, seq FROM orders WHERE tenant=?1 AND open=1 ORDER BY seq",
    /* SQLite takes a bare column of a min() query from the row with the
     * minimum: the received_at of each tenant's oldest open order. */
    [ST_COUNT_OPEN] = "SELECT tenant, count(*), min(created_seq), json_extract(doc, '$.received_at') FROM orders"
                      " WHERE open=1 GROUP BY tenant",
    [ST_OPEN_TOTAL] = "SELECT count(*) FROM orders WHERE open=1",
    [ST_EVENTS_AFTER] = "SELECT seq, doc FROM events WHERE tenant=?1 AND seq>?2 ORDER BY seq LIMIT ?3",
    /* By the closed index, so that retention reads only what is due, not
     * every order (a SCAN and a walk of the tenant without INDEXED BY). */
    [ST_TENANTS] = "SELECT DISTINCT tenant FROM orders INDEXED BY orders_closed WHERE open=0 AND closed_at<?1",
    [ST_PRUNABLE] = "SELECT created_seq, seq FROM orders INDEXED BY orders_closed WHERE open=0 AND closed_at<?1 "
                    "AND tenant=?2 AND seq<=?3 ORDER BY closed_at LIMIT ?4",
    [ST_DEL_EVENTS] = "DELETE FROM events WHERE tenant=?1 AND created_seq=?2",
    [ST_DEL_ORDER] = "DELETE FROM orders WHERE tenant=?1 AND created_seq=?2",
    [ST_SEQ_FLOOR] = "INSERT INTO meta(k, v) VALUES('seq_floor:' || ?1, ?2) ON CONFLICT(k) DO UPDATE SET "
                     "v=max(CAST(v AS INTEGER), CAST(excluded.v AS INTEGER))",
    [ST_COUNT_ORDERS] = "SELECT count(*) FROM orders",
    [ST_COUNT_EVENTS] = "SELECT count(*) FROM events",
    [ST_OLDEST_CLOSED] = "SELECT min(closed_at) FROM orders WHERE open=0",
    [ST_TIME_NEW] = "INSERT OR IGNORE INTO order_times(tenant, created_seq, order_number, created_at, last_status) "
                    "VALUES(?1,?2,?3,?4,'new')",
    /* ?3 the new status, ?4 now. First times only; a recall is ready ->
     * preparing. RETURNING: the ticket (ms) when this change made it ready
     * for the first time, else NULL. */
    [ST_TIME_STATUS] = "UPDATE order_times SET "
                       "accepted_at = CASE WHEN ?3='accepted' THEN coalesce(accepted_at, ?4) ELSE accepted_at END, "
                       "ready_at = CASE WHEN ?3='ready' THEN coalesce(ready_at, ?4) ELSE ready_at END, "
                       "served_at = CASE WHEN ?3='served' THEN coalesce(served_at, ?4) ELSE served_at END, "
                       "cancelled_at = CASE WHEN ?3='cancelled' THEN ?4 ELSE cancelled_at END, "
                       "recalls = recalls + (?3='preparing' AND last_status='ready'), "
                       "ready_first = (?3='ready' AND ready_at IS NULL), "
                       "last_status = ?3 "
                       "WHERE tenant=?1 AND created_seq=?2 "
                       "RETURNING CASE WHEN ready_first THEN ready_at - created_at END",
    [ST_TIME_STATIONS] = "INSERT OR IGNORE INTO station_times(tenant, created_seq, station, ready_at) "
                         "SELECT ?1, ?2, key, ?3 FROM json_each(?4, '$.stations') WHERE value='ready'",
    [ST_DEL_TIMES] = "DELETE FROM order_times WHERE tenant=?1 AND created_seq=?2",
    [ST_DEL_STATION_TIMES] = "DELETE FROM station_times WHERE tenant=?1 AND created_seq=?2",
};

#define SCHEMA_VERSION "2"

/* closed_at: wall-clock milliseconds since 1970 when the instance closed,
 * NULL while it is open. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS orders("
    " tenant TEXT NOT NULL, order_number TEXT NOT NULL, status TEXT NOT NULL,"
    " open INTEGER NOT NULL, seq INTEGER NOT NULL, created_seq INTEGER NOT NULL,"
    " doc TEXT NOT NULL, fingerprint TEXT NOT NULL, closed_at INTEGER,"
    " PRIMARY KEY(tenant, created_seq)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS orders_number ON orders(tenant, order_number, created_seq);"
    "CREATE INDEX IF NOT EXISTS orders_open ON orders(open) WHERE open=1;"
    "CREATE INDEX IF NOT EXISTS orders_closed ON orders(closed_at) WHERE open=0;"
    "CREATE TABLE IF NOT EXISTS events("
    " tenant TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL, created_seq INTEGER,"
    " PRIMARY KEY(tenant, seq)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS events_instance ON events(tenant, created_seq);"
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS order_times("
    " tenant TEXT NOT NULL, created_seq INTEGER NOT NULL, order_number TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, accepted_at INTEGER, ready_at INTEGER, served_at INTEGER,"
    " cancelled_at INTEGER, recalls INTEGER NOT NULL DEFAULT 0, last_status TEXT NOT NULL,"
    " ready_first INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(tenant, created_seq)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS order_times_created ON order_times(created_at);"
    "CREATE TABLE IF NOT EXISTS station_times("
    " tenant TEXT NOT NULL, created_seq INTEGER NOT NULL, station TEXT NOT NULL, ready_at INTEGER NOT NULL,"
    " PRIMARY KEY(tenant, created_seq, station)) WITHOUT ROWID;";

struct journal {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[ST__COUNT];
    int in_batch;
    uint64_t open_epoch;      /* epoch the next or current batch carries */
    uint64_t committed_epoch; /* highest epoch durable on disk */
    uint64_t commits;         /* successful commits, i.e. fsyncs of batches */
    /* Row counts for /metrics, kept here rather than counted per scrape (a
     * count(*) walks every row, on the event loop): counted once at open,
     * then moved by each commit and prune. batch_* are the open batch's. */
    int64_t rows_orders, rows_events, batch_orders, batch_events;
    int64_t last_ticket_ms; /* see journal_last_ticket_ms */
    char error[256];
};

static int fail(journal *j, const char *what)
{
    snprintf(j->error, sizeof j->error, "%s: %s", what, sqlite3_errmsg(j->db));
    return -1;
}

static sqlite3_stmt *stmt(journal *j, int which)
{
    sqlite3_stmt *s = j->st[which];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* 1 if table `t` has column `col`, 0 if not (or no such table), -1 on error. */
static int has_column(sqlite3 *db, const char *t, const char *col)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info(?1) WHERE name=?2", -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, t, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, col, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) > 0 : -1;
    sqlite3_finalize(s);
    return rc;
}

int64_t journal_wall_ms(void) { return (int64_t)kb_wall_ms(); }

/* Copies version 1 rows (one per order number) into the version 2 table,
 * each with the fingerprint of its document (the bridge's own fields are
 * not part of it, so it is what the POS sent) and, if closed, the time of
 * the migration as its closing time. One transaction: all or nothing. */
static int copy_v1_rows(sqlite3 *db)
{
    sqlite3_stmt *rd = NULL, *wr = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT tenant, order_number, status, open, seq, created_seq, doc FROM orders_v1",
                           -1, &rd, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO orders(tenant, order_number, status, open, seq, created_seq, doc, "
                               "fingerprint, closed_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                           -1, &wr, NULL) != SQLITE_OK)
        goto out;
    int64_t now = journal_wall_ms();
    int step;
    while ((step = sqlite3_step(rd)) == SQLITE_ROW) {
        const char *doc = (const char *)sqlite3_column_text(rd, 6);
        char fp[ORDER_FINGERPRINT_HEX + 1];
        cJSON *parsed = cJSON_Parse(doc ? doc : "");
        int ok = parsed && order_fingerprint(parsed, fp) == 0;
        cJSON_Delete(parsed);
        if (!ok) snprintf(fp, sizeof fp, "unknown"); /* unreadable: no re-send can match it */
        sqlite3_reset(wr);
        for (int c = 0; c < 7; c++) sqlite3_bind_value(wr, c + 1, sqlite3_column_value(rd, c));
        sqlite3_bind_text(wr, 8, fp, -1, SQLITE_TRANSIENT);
        if (sqlite3_column_int(rd, 3)) sqlite3_bind_null(wr, 9);
        else sqlite3_bind_int64(wr, 9, now);
        if (sqlite3_step(wr) != SQLITE_DONE) goto out;
    }
    rc = step == SQLITE_DONE ? 0 : -1;
out:
    sqlite3_finalize(rd);
    sqlite3_finalize(wr);
    return rc;
}

/* Events of a journal from before instances get the created_seq of their
 * order: then each order number had one instance, found by its number. */
static int migrate_events(journal *j)
{
    int has = has_column(j->db, "events", "created_seq");
    int exists = has_column(j->db, "events", "seq");
    if (has < 0 || exists < 0) return -1;
    if (has || !exists) return 0;
    if (sqlite3_exec(j->db, "BEGIN IMMEDIATE; ALTER TABLE events ADD COLUMN created_seq INTEGER;"
                            "UPDATE events SET created_seq=(SELECT o.created_seq FROM orders o WHERE "
                            " o.tenant=events.tenant AND o.order_number=json_extract(events.doc, '$.order_number')"
                            " ORDER BY o.created_seq DESC LIMIT 1); COMMIT;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fail(j, "migrating events");
        if (sqlite3_get_autocommit(j->db) == 0) sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* A journal made before retention has no auto-vacuum: convert it once. */
static int enable_incremental_vacuum(journal *j)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(j->db, "PRAGMA auto_vacuum", -1, &s, NULL) != SQLITE_OK) return -1;
    int mode = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sqlite3_finalize(s);
    if (mode == 2) return 0;
    /* The mode of a file that exists (WAL mode has written its header)
     * changes only with a VACUUM; on an empty one that takes no time. */
    if (mode < 0 || sqlite3_exec(j->db, "PRAGMA auto_vacuum=INCREMENTAL; VACUUM", NULL, NULL, NULL) != SQLITE_OK)
        return fail(j, "turning on incremental auto-vacuum");
    return 0;
}

static int migrate_v1(journal *j)
{
    int v2 = has_column(j->db, "orders", "fingerprint");
    int exists = has_column(j->db, "orders", "order_number");
    if (v2 < 0 || exists < 0) return -1;
    if (v2 || !exists) return 0;
    if (sqlite3_exec(j->db, "BEGIN IMMEDIATE; ALTER TABLE orders RENAME TO orders_v1;"
                            "DROP INDEX IF EXISTS orders_open;", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(j->db, schema, NULL, NULL, NULL) != SQLITE_OK || copy_v1_rows(j->db) != 0 ||
        sqlite3_exec(j->db, "DROP TABLE orders_v1; COMMIT;", NULL, NULL, NULL) != SQLITE_OK) {
        fail(j, "migrating orders to instances");
        if (sqlite3_get_autocommit(j->db) == 0) sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static int64_t count_of(journal *j, int which);

int journal_open(journal **out, const char *path, char *err, size_t errlen)
{
    journal *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    j->open_epoch = 1;
    if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        goto fail;
    /* synchronous=FULL: a commit survives power loss, not just a crash. */
    if (sqlite3_exec(j->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                            "PRAGMA cache_size=-1024; PRAGMA busy_timeout=2000;",
                     NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    j->path = strdup(path);
    if (!j->path || enable_incremental_vacuum(j) != 0 || migrate_events(j) != 0 || migrate_v1(j) != 0) goto fail;
    if (sqlite3_exec(j->db, schema, NULL, NULL, NULL) != SQLITE_OK) goto fail;
    if (sqlite3_exec(j->db, "INSERT OR REPLACE INTO meta(k, v) VALUES('schema', '" SCHEMA_VERSION "')", NULL, NULL,
                     NULL) != SQLITE_OK)
        goto fail;
    for (int i = 0; i < ST__COUNT; i++)
        if (sqlite3_prepare_v3(j->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &j->st[i], NULL) !=
            SQLITE_OK)
            goto fail;
    j->rows_orders = count_of(j, ST_COUNT_ORDERS);
    j->rows_events = count_of(j, ST_COUNT_EVENTS);
    if (j->rows_orders < 0 || j->rows_events < 0) goto fail;
    *out = j;
    return 0;
fail:
    snprintf(err, errlen, "%s: %s", path, j->error[0] ? j->error : j->db ? sqlite3_errmsg(j->db) : "cannot open");
    journal_close(j);
    return -1;
}

void journal_close(journal *j)
{
    if (!j) return;
    if (j->in_batch) journal_abort(j);
    for (int i = 0; i < ST__COUNT; i++) sqlite3_finalize(j->st[i]);
    sqlite3_close(j->db);
    free(j->path);
    free(j);
}

const char *journal_last_error(journal *j) { return j->error; }
const char *journal_path(const journal *j) { return j->path; }

int journal_get_order(journal *j, const char *tenant, const char *order_number, journal_order *out)
{
    sqlite3_stmt *s = stmt(j, ST_GET);
    sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, order_number, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return fail(j, "read order");
    out->status = order_status_parse((const char *)sqlite3_column_text(s, 0));
    out->seq = sqlite3_column_int64(s, 1);
    out->created_seq = sqlite3_column_int64(s, 2);
    out->doc = strdup((const char *)sqlite3_column_text(s, 3));
    snprintf(out->fingerprint, sizeof out->fingerprint, "%s", (const char *)sqlite3_column_text(s, 4));
    out->closed_at_ms = sqlite3_column_type(s, 5) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 5);
    sqlite3_reset(s);
    if (!out->doc) {
        snprintf(j->error, sizeof j->error, "read order: out of memory");
        return -1;
    }
    return 1;
}

static int begin_batch(journal *j)
{
    if (j->in_batch) return 0;
    if (sqlite3_step(stmt(j, ST_BEGIN)) != SQLITE_DONE) return fail(j, "begin");
    j->in_batch = 1;
    return 0;
}

struct sqlite3 *journal_db(journal *j) { return j->db; }
int journal_begin(journal *j) { return begin_batch(j); }

/* The change's times for reports (see the top of this file). */
static int put_times(journal *j, const char *tenant, const char *order_number, const journal_order *state)
{
    int64_t now = journal_wall_ms();
    j->last_ticket_ms = -1;
    sqlite3_stmt *s;
    if (state->seq == state->created_seq) {
        s = stmt(j, ST_TIME_NEW);
        sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, state->created_seq);
        sqlite3_bind_text(s, 3, order_number, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, now);
        if (sqlite3_step(s) != SQLITE_DONE) return fail(j, "write order times");
    } else {
        s = stmt(j, ST_TIME_STATUS);
        sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, state->created_seq);
        sqlite3_bind_text(s, 3, order_status_name(state->status), -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, now);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) j->last_ticket_ms = sqlite3_column_int64(s, 0);
        while (rc == SQLITE_ROW) rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) return fail(j, "write order times");
    }
    s = stmt(j, ST_TIME_STATIONS);
    sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, state->created_seq);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_text(s, 4, state->doc, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) return fail(j, "write station times");
    return 0;
}

int64_t journal_last_ticket_ms(const journal *j) { return j->last_ticket_ms; }

int journal_put_change(journal *j, const char *tenant, const char *order_number,
                       const journal_order *state, const char *event_doc)
{
    if (begin_batch(j) != 0) return -1;
    sqlite3_stmt *s = stmt(j, ST_PUT_ORDER);
    sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, order_number, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, order_status_name(state->status), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, order_status_is_open(state->status));
    sqlite3_bind_int64(s, 5, state->seq);
    sqlite3_bind_int64(s, 6, state->created_seq);
    sqlite3_bind_text(s, 7, state->doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, state->fingerprint, -1, SQLITE_STATIC);
    if (order_status_is_open(state->status)) sqlite3_bind_null(s, 9);
    else sqlite3_bind_int64(s, 9, state->closed_at_ms);
    if (sqlite3_step(s) != SQLITE_DONE) return fail(j, "write order");
    s = stmt(j, ST_PUT_EVENT);
    sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, state->seq);
    sqlite3_bind_text(s, 3, event_doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, state->created_seq);
    if (sqlite3_step(s) != SQLITE_DONE) return fail(j, "write event");
    if (put_times(j, tenant, order_number, state) != 0) return -1;
    j->batch_events++;
    if (state->seq == state->created_seq) j->batch_orders++; /* a new instance's first row */
    return 0;
}

int64_t journal_last_seq(journal *j, const char *tenant)
{
    sqlite3_stmt *s = stmt(j, ST_LAST_SEQ);
    sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
    int64_t seq = -1;
    if (sqlite3_step(s) == SQLITE_ROW) seq = sqlite3_column_int64(s, 0); /* max() of none is NULL: 0 */
    else fail(j, "read last seq");
    sqlite3_reset(s);
    return seq;
}

uint64_t journal_open_epoch(journal *j) { return j->open_epoch; }
uint64_t journal_committed_epoch(journal *j) { return j->committed_epoch; }
uint64_t journal_commit_count(journal *j) { return j->commits; }
int journal_has_uncommitted(journal *j) { return j->in_batch; }

int journal_commit(journal *j)
{
    if (!j->in_batch) return 0;
    if (sqlite3_step(stmt(j, ST_COMMIT)) != SQLITE_DONE) {
        fail(j, "commit");
        journal_abort(j);
        return -1;
    }
    j->in_batch = 0;
    j->committed_epoch = j->open_epoch++;
    j->commits++;
    j->rows_orders += j->batch_orders;
    j->rows_events += j->batch_events;
    j->batch_orders = j->batch_events = 0;
    return 0;
}

void journal_abort(journal *j)
{
    if (sqlite3_get_autocommit(j->db) == 0) sqlite3_step(stmt(j, ST_ROLLBACK));
    sqlite3_reset(j->st[ST_ROLLBACK]);
    j->in_batch = 0;
    j->batch_orders = j->batch_events = 0;
    /* The failed epoch is skipped, never committed: its changes are gone. */
    j->committed_epoch = j->open_epoch - 1;
    j->open_epoch++;
}

int journal_for_each_open(journal *j, const char *tenant, journal_order_fn fn, void *ctx)
{
    sqlite3_stmt *s = stmt(j, tenant ? ST_OPEN_TENANT : ST_OPEN_ALL);
    if (tenant) sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (fn(ctx, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
               (const char *)sqlite3_column_text(s, 2), sqlite3_column_int64(s, 3)))
            break;
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(j, "read open orders");
}

int journal_count_open(journal *j, journal_count_fn fn, void *ctx)
{
    sqlite3_stmt *s = stmt(j, ST_COUNT_OPEN);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1),
           (const char *)sqlite3_column_text(s, 3));
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : fail(j, "count open orders");
}

int64_t journal_open_total(journal *j)
{
    sqlite3_stmt *s = stmt(j, ST_OPEN_TOTAL);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_reset(s);
    return n;
}

int journal_events_after(journal *j, const char *tenant, int64_t after, int limit, journal_event_fn fn,
                         void *ctx)
{
    sqlite3_stmt *s = stmt(j, ST_EVENTS_AFTER);
    sqlite3_bind_text(s, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, after);
    sqlite3_bind_int(s, 3, limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (fn(ctx, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1))) break;
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(j, "read events");
}

int64_t journal_memory_used(void) { return sqlite3_memory_used(); }

int journal_probe(journal *j)
{
    if (j->in_batch) return 0;
    if (sqlite3_exec(j->db, "BEGIN IMMEDIATE; INSERT OR REPLACE INTO meta(k, v) VALUES('probe', "
                            "strftime('%Y-%m-%dT%H:%M:%fZ')); COMMIT;", NULL, NULL, NULL) != SQLITE_OK) {
        fail(j, "probe");
        if (sqlite3_get_autocommit(j->db) == 0) sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* Deletes one instance and its events inside the prune transaction, and
 * raises the tenant's seq floor to its last seq. */
static int prune_instance(journal *j, const char *tenant, int64_t created_seq, int64_t last_seq,
                          journal_prune_stats *st)
{
    sqlite3_stmt *s = stmt(j, ST_SEQ_FLOOR);
    sqlite3_bind_text(s, 1, tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, last_seq);
    if (sqlite3_step(s) != SQLITE_DONE) return fail(j, "prune: seq floor");
    s = stmt(j, ST_DEL_EVENTS);
    sqlite3_bind_text(s, 1, tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, created_seq);
    if (sqlite3_step(s) != SQLITE_DONE) return fail(j, "prune: events");
    st->events += sqlite3_changes(j->db);
    s = stmt(j, ST_DEL_ORDER);
    sqlite3_bind_text(s, 1, tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, created_seq);
    if (sqlite3_step(s) != SQLITE_DONE) return fail(j, "prune: order");
    st->orders += sqlite3_changes(j->db);
    for (int which = ST_DEL_TIMES; which <= ST_DEL_STATION_TIMES; which++) {
        s = stmt(j, which);
        sqlite3_bind_text(s, 1, tenant, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, created_seq);
        if (sqlite3_step(s) != SQLITE_DONE) return fail(j, "prune: times");
    }
    return 0;
}

#define PRUNE_TENANTS_MAX 64

int journal_prune(journal *j, int64_t cutoff_ms, int limit, journal_prunable_fn prunable, void *ctx,
                  journal_prune_stats *st)
{
    memset(st, 0, sizeof *st);
    if (j->in_batch) return 0; /* never inside the order service's batch */
    char tenants[PRUNE_TENANTS_MAX][64];
    int n = 0;
    sqlite3_stmt *s = stmt(j, ST_TENANTS);
    sqlite3_bind_int64(s, 1, cutoff_ms);
    int rc = SQLITE_DONE;
    while (n < PRUNE_TENANTS_MAX && (rc = sqlite3_step(s)) == SQLITE_ROW)
        snprintf(tenants[n++], sizeof tenants[0], "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    if (n == 0) return 0;
    if (sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return fail(j, "prune: begin");
    for (int t = 0; t < n && limit > 0; t++) {
        int64_t upto = prunable ? prunable(ctx, tenants[t]) : INT64_MAX;
        /* Collect first: deleting while stepping the same table is allowed
         * in SQLite, but a list keeps the statements simple. */
        int64_t victims[256][2];
        int k = 0;
        s = stmt(j, ST_PRUNABLE);
        sqlite3_bind_int64(s, 1, cutoff_ms);
        sqlite3_bind_text(s, 2, tenants[t], -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, upto);
        sqlite3_bind_int(s, 4, limit < 256 ? limit : 256);
        while (k < 256 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            victims[k][0] = sqlite3_column_int64(s, 0);
            victims[k][1] = sqlite3_column_int64(s, 1);
            k++;
        }
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            fail(j, "prune: select");
            goto failed;
        }
        for (int i = 0; i < k; i++)
            if (prune_instance(j, tenants[t], victims[i][0], victims[i][1], st) != 0) goto failed;
        limit -= k;
    }
    if (sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fail(j, "prune: commit");
        goto failed;
    }
    j->rows_orders -= st->orders;
    j->rows_events -= st->events;
    /* Hand the freed pages back to the file system, a bounded number at a time. */
    if (st->orders) sqlite3_exec(j->db, "PRAGMA incremental_vacuum(512)", NULL, NULL, NULL);
    return 0;
failed: /* j->error says what failed */
    if (sqlite3_get_autocommit(j->db) == 0) sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    memset(st, 0, sizeof *st);
    return -1;
}

static int64_t count_of(journal *j, int which)
{
    sqlite3_stmt *s = stmt(j, which);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_reset(s);
    return n;
}

int journal_stats(journal *j, journal_size *out)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    char wal[4096];
    if (stat(j->path, &st) == 0) out->bytes += (int64_t)st.st_size;
    snprintf(wal, sizeof wal, "%s-wal", j->path);
    if (stat(wal, &st) == 0) out->bytes += (int64_t)st.st_size;
    out->orders = j->rows_orders;
    out->events = j->rows_events;
    out->oldest_closed_ms = count_of(j, ST_OLDEST_CLOSED); /* NULL (none closed) reads as 0 */
    return out->orders < 0 || out->events < 0 ? -1 : 0;
}
