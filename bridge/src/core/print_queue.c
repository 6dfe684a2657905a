/* print_queue.c - see print_queue.h.
 *
 * Table print_jobs, one row per ticket. done=0 rows are the queue; done=1
 * rows are kept a week (KEEP_DONE_MS) so print_queue_has_ticket can tell
 * that an order already went to paper, then deleted when a job is done or
 * the queue opens. Reads and writes go through the journal's connection:
 * print_queue_add joins the open batch; started and done run when no batch
 * is open and commit on their own (one small fsync each, a few per ticket). */
#include "print_queue.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_DONE_MS (7 * 24 * 3600 * 1000LL)

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS print_jobs("
    " id INTEGER PRIMARY KEY, printer TEXT NOT NULL, tenant TEXT NOT NULL, created_seq INTEGER NOT NULL,"
    " kind TEXT NOT NULL, doc TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " done INTEGER NOT NULL DEFAULT 0, made_at INTEGER NOT NULL, done_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS print_jobs_queue ON print_jobs(printer, id) WHERE done=0;"
    "CREATE INDEX IF NOT EXISTS print_jobs_instance ON print_jobs(printer, tenant, created_seq);"
    "CREATE INDEX IF NOT EXISTS print_jobs_done ON print_jobs(done_at) WHERE done=1;";

enum { Q_ADD, Q_HAS, Q_NEXT, Q_STARTED, Q_UNSTARTED, Q_DONE, Q_PENDING, Q_PRUNE, Q__COUNT };

static const char *const sql[Q__COUNT] = {
    [Q_ADD] = "INSERT INTO print_jobs(printer, tenant, created_seq, kind, doc, made_at) VALUES(?1,?2,?3,?4,?5,?6)",
    [Q_HAS] = "SELECT count(*) FROM print_jobs INDEXED BY print_jobs_instance WHERE printer=?1 AND tenant=?2 AND "
              "created_seq=?3 AND kind IN ('new','from_screen','reprint')",
    [Q_NEXT] = "SELECT id, tenant, created_seq, kind, attempts, doc FROM print_jobs INDEXED BY print_jobs_queue "
               "WHERE printer=?1 AND done=0 ORDER BY id LIMIT 1",
    [Q_STARTED] = "UPDATE print_jobs SET attempts=attempts+1 WHERE id=?1",
    [Q_UNSTARTED] = "UPDATE print_jobs SET attempts=max(attempts-1, 0) WHERE id=?1",
    [Q_DONE] = "UPDATE print_jobs SET done=1, done_at=?2 WHERE id=?1",
    [Q_PENDING] = "SELECT count(*) FROM print_jobs INDEXED BY print_jobs_queue WHERE printer=?1 AND done=0",
    [Q_PRUNE] = "DELETE FROM print_jobs WHERE done=1 AND done_at<?1",
};

static const char *const kind_names[] = {"new", "cancelled", "from_screen", "reprint", "test"};

struct print_queue {
    journal *journal;
    sqlite3_stmt *st[Q__COUNT];
};

const char *print_job_kind_name(print_job_kind k)
{
    return (unsigned)k < sizeof kind_names / sizeof *kind_names ? kind_names[k] : "new";
}

static print_job_kind kind_parse(const char *s)
{
    for (size_t i = 0; s && i < sizeof kind_names / sizeof *kind_names; i++)
        if (strcmp(s, kind_names[i]) == 0) return (print_job_kind)i;
    return PRINT_JOB_NEW;
}

static sqlite3_stmt *stmt(print_queue *q, int which)
{
    sqlite3_reset(q->st[which]);
    sqlite3_clear_bindings(q->st[which]);
    return q->st[which];
}

void print_queue_free(print_queue *q)
{
    if (!q) return;
    for (int i = 0; i < Q__COUNT; i++) sqlite3_finalize(q->st[i]);
    free(q);
}

/* One statement on its own transaction; only when no batch is open. */
static int write_alone(print_queue *q, sqlite3_stmt *s)
{
    if (journal_has_uncommitted(q->journal) || journal_begin(q->journal) != 0) return -1;
    if (sqlite3_step(s) != SQLITE_DONE) {
        sqlite3_reset(s);
        journal_abort(q->journal);
        return -1;
    }
    sqlite3_reset(s);
    return journal_commit(q->journal);
}

static void prune(print_queue *q)
{
    sqlite3_stmt *s = stmt(q, Q_PRUNE);
    sqlite3_bind_int64(s, 1, journal_wall_ms() - KEEP_DONE_MS);
    write_alone(q, s); /* a failure only keeps old rows longer */
}

print_queue *print_queue_open(journal *j, char *err, size_t errlen)
{
    sqlite3 *db = journal_db(j);
    print_queue *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->journal = j;
    if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) goto fail;
    for (int i = 0; i < Q__COUNT; i++)
        if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i], NULL) != SQLITE_OK) goto fail;
    prune(q);
    return q;
fail:
    snprintf(err, errlen, "print queue: %s", sqlite3_errmsg(db));
    print_queue_free(q);
    return NULL;
}

int print_queue_add(print_queue *q, const char *printer, const char *tenant, int64_t created_seq,
                    print_job_kind kind, const char *doc)
{
    if (journal_begin(q->journal) != 0) return -1;
    sqlite3_stmt *s = stmt(q, Q_ADD);
    sqlite3_bind_text(s, 1, printer, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, created_seq);
    sqlite3_bind_text(s, 4, print_job_kind_name(kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, journal_wall_ms());
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(s);
    return rc;
}

static int64_t count(sqlite3_stmt *s)
{
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_reset(s);
    return n;
}

int print_queue_has_ticket(print_queue *q, const char *printer, const char *tenant, int64_t created_seq)
{
    sqlite3_stmt *s = stmt(q, Q_HAS);
    sqlite3_bind_text(s, 1, printer, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, created_seq);
    int64_t n = count(s);
    return n < 0 ? -1 : n > 0;
}

int64_t print_queue_pending(print_queue *q, const char *printer)
{
    sqlite3_stmt *s = stmt(q, Q_PENDING);
    sqlite3_bind_text(s, 1, printer, -1, SQLITE_STATIC);
    return count(s);
}

int print_queue_next(print_queue *q, const char *printer, print_job *out)
{
    if (journal_has_uncommitted(q->journal)) return -1;
    sqlite3_stmt *s = stmt(q, Q_NEXT);
    sqlite3_bind_text(s, 1, printer, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return rc == SQLITE_DONE ? 0 : -1;
    }
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(s, 0);
    snprintf(out->printer, sizeof out->printer, "%s", printer);
    snprintf(out->tenant, sizeof out->tenant, "%s", (const char *)sqlite3_column_text(s, 1));
    out->created_seq = sqlite3_column_int64(s, 2);
    out->kind = kind_parse((const char *)sqlite3_column_text(s, 3));
    out->attempts = sqlite3_column_int(s, 4);
    const char *doc = (const char *)sqlite3_column_text(s, 5);
    out->doc = strdup(doc ? doc : "null");
    sqlite3_reset(s);
    return out->doc ? 1 : -1;
}

int print_queue_started(print_queue *q, int64_t id)
{
    sqlite3_stmt *s = stmt(q, Q_STARTED);
    sqlite3_bind_int64(s, 1, id);
    return write_alone(q, s);
}

int print_queue_unstarted(print_queue *q, int64_t id)
{
    sqlite3_stmt *s = stmt(q, Q_UNSTARTED);
    sqlite3_bind_int64(s, 1, id);
    return write_alone(q, s);
}

int print_queue_done(print_queue *q, int64_t id)
{
    sqlite3_stmt *s = stmt(q, Q_DONE);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, journal_wall_ms());
    int rc = write_alone(q, s);
    if (rc == 0 && id % 256 == 0) prune(q);
    return rc;
}
