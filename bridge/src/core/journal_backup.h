/* journal_backup.h - a consistent copy of the bridge's journal taken while
 * orders flow, the checks a file must pass to be put back as the journal,
 * and putting it back (kb-journal, behind `kitchen-bus backup` and
 * `kitchen-bus restore`).
 *
 * These functions open the database files with sqlite3 directly and never
 * through journal.c, so they work with the bridge running (backup) or
 * stopped (restore), and they depend only on the tables and columns every
 * journal has: orders(tenant, order_number, status, open, seq, created_seq,
 * doc), events(tenant, seq, doc) and meta(k, v). Extra columns and indexes
 * (a newer schema) are allowed.
 *
 * Every error message is "<cause>; <fix>", for "kitchen-bus: error: ". */
#ifndef KB_JOURNAL_BACKUP_H
#define KB_JOURNAL_BACKUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *tenant;     /* malloc'd */
    int64_t last_seq; /* highest seq in events or meta 'seq_floor:<tenant>', 0 if none */
    int64_t orders;   /* rows in orders (instances, open or closed) */
    int64_t open;     /* of which open */
} jb_tenant;

typedef struct {
    int64_t bytes;           /* size of the file */
    int64_t orders, open;    /* rows in orders, and the open ones */
    int64_t events;          /* rows in events */
    char schema[16];         /* meta 'schema', "1" when it has none */
    jb_tenant *tenants;      /* sorted by tenant; malloc'd */
    size_t n_tenants;
} jb_summary;

typedef struct {
    int step_pages; /* pages copied per sqlite3_backup_step (0: JB_STEP_PAGES) */
    int pause_ms;   /* sleep between steps, to spare a slow disk (0: none) */
} jb_backup_opts;

#define JB_STEP_PAGES 64

/* Copies the journal at `journal` (the bridge may be writing to it) into
 * the new file `dest`, which must not exist yet: SQLite's online backup API
 * in steps of a bounded number of pages, inside one read transaction, so
 * the copy is the journal as of the moment the backup started (every order
 * acked before then is in it) and the bridge's writes are never blocked
 * (WAL mode). The copy is written as `dest`.partial in rollback-journal
 * mode (one self-contained file), passes PRAGMA integrity_check and the
 * journal checks, is fsync'd, and only then gets its name. `out` (may be
 * NULL) describes the copy. 0 or -1 with `err` set; nothing is left behind
 * on failure. */
int jb_backup(const char *journal, const char *dest, const jb_backup_opts *opts, jb_summary *out, char *err,
              size_t errlen);

/* Checks that `path` is a Kitchen Bus journal: an SQLite database with no
 * -wal or hot -journal beside it, passing PRAGMA integrity_check
 * (`full`) or quick_check, with the tables and columns above. Opened
 * read-only and immutable: the file and its folder are never written.
 * Fills `out` (may be NULL). 0 or -1 with `err` set. */
int jb_inspect(const char *path, int full, jb_summary *out, char *err, size_t errlen);

void jb_summary_free(jb_summary *s);

typedef int (*jb_order_fn)(void *ctx, const char *tenant, const char *order_number, const char *status, int open,
                           int64_t seq);
/* Calls fn for every row of orders of the (inspected) file at `path`, by
 * tenant and created_seq; stops early if fn returns nonzero. */
int jb_for_each_order(const char *path, jb_order_fn fn, void *ctx, char *err, size_t errlen);

typedef struct {
    int kept_old;        /* the previous journal is now <journal>.before-restore */
    int old_damaged;     /* it could not be opened as SQLite: kept exactly as it was */
    int moved_wal;       /* its -wal went with it (<journal>.before-restore-wal) */
    char kept[4096];     /* the path it was kept at */
} jb_restore_result;

/* Puts the backup `backup` in place as the journal `journal` of a stopped
 * bridge. Refuses (nothing changed) a file jb_inspect(full) refuses, the
 * journal itself, an existing <journal>.before-restore (from an earlier
 * restore: the operator moves it away first), and a journal another
 * process has open (a POSIX lock probe on SQLite's lock bytes of the
 * journal and its -shm, then an exclusive SQLite lock). The old journal's
 * WAL is checkpointed into it under that exclusive lock and the old file
 * becomes <journal>.before-restore; a -wal that remains goes with it
 * (<journal>.before-restore-wal) and a stale -shm is removed, so nothing of
 * the old journal is ever read as part of the new one. The backup is
 * copied (backup API) to <journal>.restoring, given the owner, group and
 * mode of the old journal (or of the folder, mode 0640, when there is none),
 * checked, fsync'd and renamed into place. `out` describes the restored
 * journal. 0 or -1 with `err` set. */
int jb_restore(const char *backup, const char *journal, jb_summary *out, jb_restore_result *res, char *err,
               size_t errlen);

#endif
