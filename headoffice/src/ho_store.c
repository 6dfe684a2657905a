/* ho_store.c - see ho_store.h. libpq, text parameters, prepared statements
 * (prepared again after a reconnect). */
#include "ho_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "errbuf.h"

#define SCHEMA_VERSION 1
#define MIGRATION_LOCK 72710018 /* pg_advisory_lock key: one consumer migrates at a time */

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS kb_schema (version integer NOT NULL);"
    "CREATE TABLE IF NOT EXISTS kb_events ("
    " outlet text NOT NULL, tenant text NOT NULL, seq bigint NOT NULL, created_seq bigint,"
    " event text NOT NULL, order_number text NOT NULL, status text NOT NULL, at timestamptz,"
    " doc jsonb NOT NULL, replayed boolean NOT NULL DEFAULT false, stored_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (outlet, tenant, seq));"
    "CREATE TABLE IF NOT EXISTS kb_seen ("
    " outlet text NOT NULL, tenant text NOT NULL, seq bigint NOT NULL DEFAULT 0,"
    " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (outlet, tenant));"
    "CREATE TABLE IF NOT EXISTS kb_orders ("
    " outlet text NOT NULL, tenant text NOT NULL, created_seq bigint NOT NULL, order_number text NOT NULL,"
    " status text NOT NULL, last_seq bigint NOT NULL, created_at timestamptz, accepted_at timestamptz,"
    " ready_at timestamptz, served_at timestamptz, cancelled_at timestamptz, recalls integer NOT NULL DEFAULT 0,"
    " doc jsonb, PRIMARY KEY (outlet, tenant, created_seq));"
    "CREATE INDEX IF NOT EXISTS kb_orders_created ON kb_orders (created_at);"
    "CREATE INDEX IF NOT EXISTS kb_orders_number ON kb_orders (outlet, tenant, order_number, created_seq);";

enum { Q_INSERT, Q_SEEN_ROW, Q_SEEN_LOCK, Q_CONTIGUOUS, Q_RANGE, Q_CREATE, Q_CHANGE, Q_SEEN_SET, Q_ALL_SEEN, Q__COUNT };

static const struct {
    const char *name, *sql;
    int n;
} q[Q__COUNT] = {
    [Q_INSERT] = {"kb_insert",
                  "INSERT INTO kb_events(outlet, tenant, seq, created_seq, event, order_number, status, at, doc, replayed)"
                  " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT DO NOTHING", 10},
    [Q_SEEN_ROW] = {"kb_seen_row", "INSERT INTO kb_seen(outlet, tenant) VALUES($1,$2) ON CONFLICT DO NOTHING", 2},
    [Q_SEEN_LOCK] = {"kb_seen_lock", "SELECT seq FROM kb_seen WHERE outlet=$1 AND tenant=$2 FOR UPDATE", 2},
    /* The contiguous run above seen: seq - rank stays at seen while there is no gap. */
    [Q_CONTIGUOUS] = {"kb_contiguous",
                      "SELECT coalesce(max(seq), $3) FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS d"
                      " FROM kb_events WHERE outlet=$1 AND tenant=$2 AND seq > $3) x WHERE d = $3", 3},
    [Q_RANGE] = {"kb_range",
                 "SELECT seq, created_seq, event, order_number, status, at FROM kb_events"
                 " WHERE outlet=$1 AND tenant=$2 AND seq > $3 AND seq <= $4 ORDER BY seq", 4},
    [Q_CREATE] = {"kb_create",
                  "INSERT INTO kb_orders(outlet, tenant, created_seq, order_number, status, last_seq, created_at, doc)"
                  " SELECT outlet, tenant, seq, order_number, status, seq, at, doc->'order' FROM kb_events"
                  " WHERE outlet=$1 AND tenant=$2 AND seq=$3 ON CONFLICT DO NOTHING", 3},
    /* $3 the instance, or NULL: the latest instance of the number created
     * before the change (an event of a bridge before contract 1.4). */
    [Q_CHANGE] = {"kb_change",
                  "UPDATE kb_orders o SET status=$5, last_seq=$6,"
                  " accepted_at = CASE WHEN $5='accepted' THEN coalesce(o.accepted_at, $7::timestamptz) ELSE o.accepted_at END,"
                  " ready_at = CASE WHEN $5='ready' THEN coalesce(o.ready_at, $7::timestamptz) ELSE o.ready_at END,"
                  " served_at = CASE WHEN $5='served' THEN coalesce(o.served_at, $7::timestamptz) ELSE o.served_at END,"
                  " cancelled_at = CASE WHEN $5='cancelled' THEN $7::timestamptz ELSE o.cancelled_at END,"
                  " recalls = o.recalls + CASE WHEN $5='preparing' AND o.status='ready' THEN 1 ELSE 0 END"
                  " WHERE o.outlet=$1 AND o.tenant=$2 AND o.last_seq < $6 AND o.created_seq = coalesce($3::bigint,"
                  " (SELECT max(created_seq) FROM kb_orders WHERE outlet=$1 AND tenant=$2 AND order_number=$4"
                  " AND created_seq <= $6))", 7},
    [Q_SEEN_SET] = {"kb_seen_set", "UPDATE kb_seen SET seq=$3, updated_at=now() WHERE outlet=$1 AND tenant=$2", 3},
    [Q_ALL_SEEN] = {"kb_all_seen", "SELECT outlet, tenant, seq FROM kb_seen WHERE seq > 0 ORDER BY outlet, tenant", 0},
};

struct ho_store {
    PGconn *pg;
    int prepared;
};

static int pg_fail(ho_store *s, const char *what, PGresult *r, char *err, size_t errlen)
{
    const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(s->pg);
    char line[300];
    snprintf(line, sizeof line, "%s", m && *m ? m : "no answer");
    line[strcspn(line, "\n")] = '\0';
    errbuf_set(err, errlen, "PostgreSQL: %s: %s", what, line);
    PQclear(r);
    return -1;
}

static int exec_ok(ho_store *s, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec(s->pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return pg_fail(s, what, r, err, errlen);
    PQclear(r);
    return 0;
}

static int prepare(ho_store *s, char *err, size_t errlen)
{
    for (int i = 0; i < Q__COUNT; i++) {
        PGresult *r = PQprepare(s->pg, q[i].name, q[i].sql, q[i].n, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) return pg_fail(s, "prepare", r, err, errlen);
        PQclear(r);
    }
    s->prepared = 1;
    return 0;
}

static int migrate(ho_store *s, char *err, size_t errlen)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%d)", MIGRATION_LOCK);
    if (exec_ok(s, sql, "lock for the schema", err, errlen)) return -1;
    int rc = exec_ok(s, schema, "create the schema", err, errlen);
    if (rc == 0) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO kb_schema(version) SELECT %d WHERE NOT EXISTS (SELECT 1 FROM kb_schema)", SCHEMA_VERSION);
        rc = exec_ok(s, sql, "record the schema version", err, errlen);
    }
    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%d)", MIGRATION_LOCK);
    char ignore[64];
    exec_ok(s, sql, "unlock", ignore, sizeof ignore);
    return rc;
}

ho_store *ho_store_open(const char *conninfo, const char *password, char *err, size_t errlen)
{
    ho_store *s = calloc(1, sizeof *s);
    if (!s) {
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    /* dbname holding the whole conninfo (expand_dbname), the password apart. */
    const char *keys[] = {"dbname", password ? "password" : NULL, NULL};
    const char *values[] = {conninfo, password, NULL};
    s->pg = PQconnectdbParams(keys, values, 1);
    if (PQstatus(s->pg) != CONNECTION_OK) {
        pg_fail(s, "connect", NULL, err, errlen);
        ho_store_close(s);
        return NULL;
    }
    if (exec_ok(s, "SET client_min_messages = warning", "settings", err, errlen) || migrate(s, err, errlen) ||
        prepare(s, err, errlen)) {
        ho_store_close(s);
        return NULL;
    }
    return s;
}

void ho_store_close(ho_store *s)
{
    if (!s) return;
    PQfinish(s->pg);
    free(s);
}

/* After a failure: a broken connection is made again (the next commit then
 * prepares its statements). */
static void recover(ho_store *s)
{
    if (PQstatus(s->pg) == CONNECTION_OK) {
        PGresult *r = PQexec(s->pg, "ROLLBACK");
        PQclear(r);
        return;
    }
    PQreset(s->pg);
    s->prepared = 0;
}

static PGresult *run(ho_store *s, int which, const char *const *params)
{
    return PQexecPrepared(s->pg, q[which].name, q[which].n, params, NULL, NULL, 0);
}

static int run_ok(ho_store *s, int which, const char *const *params, const char *what, char *err, size_t errlen)
{
    PGresult *r = run(s, which, params);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return pg_fail(s, what, r, err, errlen);
    PQclear(r);
    return 0;
}

/* One int64 from a one-row answer. */
static int run_int(ho_store *s, int which, const char *const *params, int64_t *out, const char *what, char *err,
                   size_t errlen)
{
    PGresult *r = run(s, which, params);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) return pg_fail(s, what, r, err, errlen);
    *out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

/* Applies the events (from, to] of one pair to kb_orders, in seq order. */
static int apply_range(ho_store *s, const char *outlet, const char *tenant, int64_t from, int64_t to, char *err,
                       size_t errlen)
{
    char a[24], b[24];
    snprintf(a, sizeof a, "%lld", (long long)from);
    snprintf(b, sizeof b, "%lld", (long long)to);
    const char *p[] = {outlet, tenant, a, b};
    PGresult *r = run(s, Q_RANGE, p);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return pg_fail(s, "read events", r, err, errlen);
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const char *seq = PQgetvalue(r, i, 0), *event = PQgetvalue(r, i, 2);
        if (strcmp(event, "created") == 0) {
            const char *c[] = {outlet, tenant, seq};
            rc = run_ok(s, Q_CREATE, c, "store an order", err, errlen);
        } else {
            const char *c[] = {outlet, tenant, PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1), PQgetvalue(r, i, 3),
                               PQgetvalue(r, i, 4), seq, PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5)};
            rc = run_ok(s, Q_CHANGE, c, "change an order", err, errlen);
        }
    }
    PQclear(r);
    return rc;
}

/* Moves seen of one pair as far as its events run without a gap. */
static int advance(ho_store *s, const char *outlet, const char *tenant, int64_t *old, int64_t *now, char *err,
                   size_t errlen)
{
    const char *p[] = {outlet, tenant, NULL};
    if (run_ok(s, Q_SEEN_ROW, p, "seen", err, errlen) || run_int(s, Q_SEEN_LOCK, p, old, "seen", err, errlen))
        return -1;
    char o[24];
    snprintf(o, sizeof o, "%lld", (long long)*old);
    p[2] = o;
    if (run_int(s, Q_CONTIGUOUS, p, now, "seen", err, errlen)) return -1;
    if (*now == *old) return 0;
    char n[24];
    snprintf(n, sizeof n, "%lld", (long long)*now);
    const char *set[] = {outlet, tenant, n};
    if (apply_range(s, outlet, tenant, *old, *now, err, errlen)) return -1;
    return run_ok(s, Q_SEEN_SET, set, "seen", err, errlen);
}

int ho_store_commit(ho_store *s, const ho_item *items, size_t n, ho_seen **moved, size_t *n_moved, char *err,
                    size_t errlen)
{
    *moved = NULL;
    *n_moved = 0;
    if (!s->prepared && (PQstatus(s->pg) != CONNECTION_OK || prepare(s, err, errlen) != 0)) {
        if (PQstatus(s->pg) != CONNECTION_OK) pg_fail(s, "connect", NULL, err, errlen);
        recover(s);
        return -1;
    }
    ho_seen *pairs = calloc(n ? n : 1, sizeof *pairs);
    if (!pairs) return errbuf_set(err, errlen, "out of memory");
    size_t np = 0;
    int rc = exec_ok(s, "BEGIN", "begin", err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const ho_event *e = &items[i].e;
        char seq[24], cseq[24];
        snprintf(seq, sizeof seq, "%lld", (long long)e->seq);
        snprintf(cseq, sizeof cseq, "%lld", (long long)e->created_seq);
        const char *p[] = {e->outlet, e->tenant, seq, e->created_seq ? cseq : NULL, e->event, e->order_number,
                           e->status, e->at[0] ? e->at : NULL, items[i].doc, e->replay ? "true" : "false"};
        rc = run_ok(s, Q_INSERT, p, "store an event", err, errlen);
        size_t k = 0;
        while (k < np && (strcmp(pairs[k].outlet, e->outlet) || strcmp(pairs[k].tenant, e->tenant))) k++;
        if (k == np) {
            memcpy(pairs[np].outlet, e->outlet, sizeof e->outlet);
            memcpy(pairs[np].tenant, e->tenant, sizeof e->tenant);
            np++;
        }
    }
    size_t nm = 0;
    for (size_t k = 0; rc == 0 && k < np; k++) {
        int64_t old, now;
        rc = advance(s, pairs[k].outlet, pairs[k].tenant, &old, &now, err, errlen);
        if (rc == 0 && now != old) {
            pairs[nm] = pairs[k];
            pairs[nm++].seen = now;
        }
    }
    if (rc == 0) rc = exec_ok(s, "COMMIT", "commit", err, errlen);
    if (rc != 0) {
        recover(s);
        free(pairs);
        return -1;
    }
    *moved = pairs;
    *n_moved = nm;
    return 0;
}

int ho_store_all_seen(ho_store *s, ho_seen **all, size_t *n, char *err, size_t errlen)
{
    *all = NULL;
    *n = 0;
    if (!s->prepared && (PQstatus(s->pg) != CONNECTION_OK || prepare(s, err, errlen) != 0)) {
        recover(s);
        return errbuf_set(err, errlen, "PostgreSQL is not reachable");
    }
    PGresult *r = run(s, Q_ALL_SEEN, NULL);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_fail(s, "read seen", r, err, errlen);
        recover(s);
        return -1;
    }
    int rows = PQntuples(r);
    ho_seen *list = calloc(rows ? (size_t)rows : 1, sizeof *list);
    if (!list) {
        PQclear(r);
        return errbuf_set(err, errlen, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        snprintf(list[i].outlet, sizeof list[i].outlet, "%s", PQgetvalue(r, i, 0));
        snprintf(list[i].tenant, sizeof list[i].tenant, "%s", PQgetvalue(r, i, 1));
        list[i].seen = strtoll(PQgetvalue(r, i, 2), NULL, 10);
    }
    PQclear(r);
    *all = list;
    *n = (size_t)rows;
    return 0;
}
