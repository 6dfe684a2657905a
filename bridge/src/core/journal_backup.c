/* journal_backup.c - see journal_backup.h: backup, checks and restore of the
 * bridge's SQLite journal, with sqlite3 opened directly (not journal.c).
 *
 * Three ways of opening a database, each for one purpose:
 *   - the live journal, for a backup: read-write without create (a reader
 *     of a WAL database writes its -shm), busy timeout, one read
 *     transaction held for the whole copy;
 *   - a file to check or to restore from: read-only and immutable (URI
 *     "file:...?immutable=1"), so neither the file nor its folder is
 *     written, after making sure no -wal or hot -journal belongs to it;
 *   - the old journal of a stopped bridge, for a restore: read-write with
 *     locking_mode=EXCLUSIVE, which fails while any other connection has it
 *     open, and which checkpoints its WAL into it before it is moved. */
#include "journal_backup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "errbuf.h"

#define BUSY_TIMEOUT_MS 5000 /* the live journal: how long a lock may hold us up at once */
#define BUSY_WAIT_MS 30000   /* and in all, over the steps of a backup */
#define LOCK_TIMEOUT_MS 1000 /* the old journal at restore: anyone holding it longer is using it */
/* SQLite's POSIX locks (os_unix.c): the database file's lock bytes
 * (PENDING, RESERVED, then the SHARED range, 512 bytes from 1 GiB), and the
 * -shm file's WAL locks and dead-man switch (bytes 120 to 128). */
#define DB_LOCK_START 0x40000000L
#define DB_LOCK_LEN 512
#define SHM_LOCK_START 120
#define SHM_LOCK_LEN 9

/* What jb_inspect found wrong, for the fix the caller names. */
typedef enum { FOUND_OK, FOUND_UNREADABLE, FOUND_BESIDE, FOUND_NOT_DB, FOUND_DAMAGED, FOUND_NOT_JOURNAL } finding;

static const char *const ORDERS_COLS[] = {"tenant", "order_number", "status", "open", "seq", "created_seq", "doc",
                                          NULL};
static const char *const EVENTS_COLS[] = {"tenant", "seq", "doc", NULL};
static const char *const META_COLS[] = {"k", "v", NULL};
static const struct {
    const char *name;
    const char *const *cols;
} TABLES[] = {{"orders", ORDERS_COLS}, {"events", EVENTS_COLS}, {"meta", META_COLS}};

/* a followed by b, malloc'd (NULL when out of memory). */
static char *cat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Size of a file, -1 if it does not exist. */
static int64_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* The folder `path` is in ("." for a bare name). */
static void folder_of(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(out, n, ".");
    else if (slash == path) snprintf(out, n, "/");
    else snprintf(out, n, "%.*s", (int)(slash - path), path);
}

/* fsync of a file or folder, for a rename that must survive a power cut. */
static int sync_path(const char *path, int folder)
{
    int fd = open(path, (folder ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Removes a database file and the side files SQLite may have made for it. */
static void remove_db(const char *path)
{
    static const char *const side[] = {"", "-journal", "-wal", "-shm"};
    char buf[PATH_MAX + 16];
    for (size_t i = 0; i < sizeof side / sizeof side[0]; i++) {
        snprintf(buf, sizeof buf, "%s%s", path, side[i]);
        unlink(buf);
    }
}

/* "file:<path, %-escaped>?immutable=1", malloc'd. */
static char *immutable_uri(const char *path)
{
    static const char tail[] = "?immutable=1";
    size_t n = strlen(path);
    char *uri = malloc(5 + 3 * n + sizeof tail);
    if (!uri) return NULL;
    char *p = uri;
    memcpy(p, "file:", 5);
    p += 5;
    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            strchr("/._-~", *c))
            *p++ = (char)*c;
        else
            p += sprintf(p, "%%%02X", *c);
    }
    memcpy(p, tail, sizeof tail);
    return uri;
}

/* Opens `path` read-only and immutable (see the top of this file). */
static int open_immutable(const char *path, sqlite3 **db, char *cause, size_t n)
{
    char *uri = immutable_uri(path);
    if (!uri) return errbuf_set(cause, n, "out of memory");
    int rc = sqlite3_open_v2(uri, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    free(uri);
    if (rc == SQLITE_OK) return 0;
    errbuf_set(cause, n, "cannot open %s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
    sqlite3_close(*db);
    *db = NULL;
    return -1;
}

/* The first column of the first row of `sql` as an integer; -1 with *ok = 0
 * on an error. */
static int64_t scalar(sqlite3 *db, const char *sql, int *ok)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    else
        *ok = 0;
    sqlite3_finalize(s);
    return v;
}

void jb_summary_free(jb_summary *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_tenants; i++) free(s->tenants[i].tenant);
    free(s->tenants);
    s->tenants = NULL;
    s->n_tenants = 0;
}

static int summarize(sqlite3 *db, jb_summary *out, char *cause, size_t n)
{
    /* The last seq as the bridge counts it: the newest event, or meta
     * 'seq_floor:<tenant>' where retention has pruned the events up to it. */
    static const char per_tenant[] =
        "SELECT t.tenant,"
        " max(coalesce((SELECT max(e.seq) FROM events e WHERE e.tenant = t.tenant), 0),"
        "     coalesce((SELECT CAST(m.v AS INTEGER) FROM meta m WHERE m.k = 'seq_floor:' || t.tenant), 0)),"
        " (SELECT count(*) FROM orders o WHERE o.tenant = t.tenant),"
        " (SELECT count(*) FROM orders o WHERE o.tenant = t.tenant AND o.open = 1)"
        " FROM (SELECT tenant FROM events UNION SELECT tenant FROM orders"
        "       UNION SELECT substr(k, 11) FROM meta WHERE k LIKE 'seq_floor:_%') t ORDER BY t.tenant";
    int ok = 1;
    out->orders = scalar(db, "SELECT count(*) FROM orders", &ok);
    out->open = scalar(db, "SELECT count(*) FROM orders WHERE open = 1", &ok);
    out->events = scalar(db, "SELECT count(*) FROM events", &ok);
    if (!ok) return errbuf_set(cause, n, "cannot read it: %s", sqlite3_errmsg(db));

    snprintf(out->schema, sizeof out->schema, "1");
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k = 'schema'", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        snprintf(out->schema, sizeof out->schema, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);

    if (sqlite3_prepare_v2(db, per_tenant, -1, &s, NULL) != SQLITE_OK)
        return errbuf_set(cause, n, "cannot read it: %s", sqlite3_errmsg(db));
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        jb_tenant *grown = realloc(out->tenants, (out->n_tenants + 1) * sizeof *grown);
        if (!grown) break;
        out->tenants = grown;
        const char *name = (const char *)sqlite3_column_text(s, 0);
        jb_tenant *t = &out->tenants[out->n_tenants];
        t->tenant = strdup(name ? name : "");
        if (!t->tenant) break;
        t->last_seq = sqlite3_column_int64(s, 1);
        t->orders = sqlite3_column_int64(s, 2);
        t->open = sqlite3_column_int64(s, 3);
        out->n_tenants++;
    }
    if (rc == SQLITE_ROW) errbuf_set(cause, n, "out of memory");
    else if (rc != SQLITE_DONE) errbuf_set(cause, n, "cannot read it: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The checks of jb_inspect on an open database; `cause` says what is wrong. */
static finding check_db(sqlite3 *db, const char *path, int full, char *cause, size_t n)
{
    int rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    if (rc == SQLITE_NOTADB) {
        errbuf_set(cause, n, "%s is not an SQLite database (%s)", path, sqlite3_errmsg(db));
        return FOUND_NOT_DB;
    }
    if (rc == SQLITE_CORRUPT) {
        errbuf_set(cause, n, "%s is damaged (%s)", path, sqlite3_errmsg(db));
        return FOUND_DAMAGED;
    }
    if (rc != SQLITE_OK) {
        errbuf_set(cause, n, "cannot read %s: %s", path, sqlite3_errmsg(db));
        return FOUND_UNREADABLE;
    }

    const char *check = full ? "integrity_check" : "quick_check";
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA %s(1)", check);
    sqlite3_stmt *s = NULL;
    finding found = FOUND_OK;
    rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *verdict = (const char *)sqlite3_column_text(s, 0);
        if (!verdict || strcmp(verdict, "ok") != 0) {
            /* One line: "*** in database main ***\nPage 2: ..." loses its heading. */
            static const char heading[] = "*** in database main ***";
            if (verdict && strncmp(verdict, heading, sizeof heading - 1) == 0) verdict += sizeof heading - 1;
            while (verdict && (*verdict == '\n' || *verdict == ' ')) verdict++;
            errbuf_set(cause, n, "%s is damaged (PRAGMA %s: %s)", path, check, verdict ? verdict : "no answer");
            for (char *c = cause; *c; c++)
                if (*c == '\n' || *c == '\r') *c = ' ';
            found = FOUND_DAMAGED;
        }
    } else {
        errbuf_set(cause, n, "%s is damaged (PRAGMA %s: %s)", path, check, sqlite3_errmsg(db));
        found = FOUND_DAMAGED;
    }
    sqlite3_finalize(s);
    if (found != FOUND_OK) return found;

    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2", -1, &s, NULL) !=
        SQLITE_OK) {
        errbuf_set(cause, n, "cannot read %s: %s", path, sqlite3_errmsg(db));
        return FOUND_UNREADABLE;
    }
    for (size_t t = 0; t < sizeof TABLES / sizeof TABLES[0] && found == FOUND_OK; t++) {
        /* A missing table has no columns: its first column names it. */
        for (size_t c = 0; TABLES[t].cols[c] && found == FOUND_OK; c++) {
            sqlite3_reset(s);
            sqlite3_bind_text(s, 1, TABLES[t].name, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, TABLES[t].cols[c], -1, SQLITE_STATIC);
            if (sqlite3_step(s) != SQLITE_ROW) {
                errbuf_set(cause, n, "cannot read %s: %s", path, sqlite3_errmsg(db));
                found = FOUND_UNREADABLE;
            } else if (sqlite3_column_int(s, 0) == 0) {
                if (c == 0)
                    errbuf_set(cause, n, "%s is not a Kitchen Bus journal (it has no table %s)", path, TABLES[t].name);
                else
                    errbuf_set(cause, n, "%s is not a Kitchen Bus journal (its table %s has no column %s)", path,
                         TABLES[t].name, TABLES[t].cols[c]);
                found = FOUND_NOT_JOURNAL;
            }
        }
    }
    sqlite3_finalize(s);
    return found;
}

/* jb_inspect without the fix: what is wrong, and what kind of wrong. */
static finding inspect(const char *path, int full, jb_summary *out, char *cause, size_t n)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        errbuf_set(cause, n, "cannot read %s: %s", path, strerror(errno));
        return FOUND_UNREADABLE;
    }
    if (!S_ISREG(st.st_mode)) {
        errbuf_set(cause, n, "%s is not a regular file", path);
        return FOUND_UNREADABLE;
    }
    if (access(path, R_OK) != 0) {
        errbuf_set(cause, n, "cannot read %s: %s", path, strerror(errno));
        return FOUND_UNREADABLE;
    }
    /* Opened immutable, the file is read as it is: a WAL or a hot rollback
     * journal beside it would hold part of it that is then not seen. */
    static const char *const beside[] = {"-wal", "-journal"};
    for (size_t i = 0; i < 2; i++) {
        char side[PATH_MAX + 16];
        snprintf(side, sizeof side, "%s%s", path, beside[i]);
        if (size_of(side) > 0) {
            errbuf_set(cause, n, "%s exists beside %s: it is a journal in use, or one that was not closed cleanly", side,
                 path);
            return FOUND_BESIDE;
        }
    }
    sqlite3 *db = NULL;
    if (open_immutable(path, &db, cause, n) != 0) return FOUND_UNREADABLE;
    finding found = check_db(db, path, full, cause, n);
    if (found == FOUND_OK && out) {
        memset(out, 0, sizeof *out);
        out->bytes = (int64_t)st.st_size;
        if (summarize(db, out, cause, n) != 0) {
            jb_summary_free(out);
            found = FOUND_UNREADABLE;
        }
    }
    sqlite3_close(db);
    return found;
}

int jb_inspect(const char *path, int full, jb_summary *out, char *err, size_t errlen)
{
    char cause[1024];
    const char *fix = NULL;
    switch (inspect(path, full, out, cause, sizeof cause)) {
    case FOUND_OK: return 0;
    case FOUND_UNREADABLE: fix = "check the file name and that you may read it"; break;
    case FOUND_BESIDE: fix = "take a copy of it with `kitchen-bus backup` and use that"; break;
    case FOUND_NOT_DB:
    case FOUND_NOT_JOURNAL: fix = "choose a backup made by `kitchen-bus backup`"; break;
    case FOUND_DAMAGED: fix = "choose another backup (the nightly timer keeps the last 7)"; break;
    }
    return errbuf_set(err, errlen, "%s; %s", cause, fix);
}

int jb_for_each_order(const char *path, jb_order_fn fn, void *ctx, char *err, size_t errlen)
{
    if (jb_inspect(path, 0, NULL, err, errlen) != 0) return -1;
    sqlite3 *db = NULL;
    char cause[1024];
    if (open_immutable(path, &db, cause, sizeof cause) != 0)
        return errbuf_set(err, errlen, "%s; check the file name and that you may read it", cause);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT tenant, order_number, status, open, seq FROM orders "
                                    "ORDER BY tenant, created_seq", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(s, 0), *num = (const char *)sqlite3_column_text(s, 1),
                       *status = (const char *)sqlite3_column_text(s, 2);
            if (fn(ctx, t ? t : "", num ? num : "", status ? status : "", sqlite3_column_int(s, 3) == 1,
                   sqlite3_column_int64(s, 4))) {
                rc = SQLITE_DONE;
                break;
            }
        }
    }
    if (rc != SQLITE_DONE) errbuf_set(err, errlen, "cannot read %s: %s; check the file", path, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Copies the database open on `src` into the new file `dst_path` with the
 * backup API, `pages` at a time (-1: all at once), and makes the copy a
 * rollback-journal database (one file, readable without a -shm). */
static int copy_db(sqlite3 *src, const char *dst_path, int pages, int pause_ms, char *cause, size_t n)
{
    sqlite3 *dst = NULL;
    sqlite3_backup *bk = NULL;
    int rc = -1;
    if (sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        errbuf_set(cause, n, "cannot create %s: %s", dst_path, dst ? sqlite3_errmsg(dst) : "out of memory");
        goto out;
    }
    bk = sqlite3_backup_init(dst, "main", src, "main");
    if (!bk) {
        errbuf_set(cause, n, "cannot start the copy into %s: %s", dst_path, sqlite3_errmsg(dst));
        goto out;
    }
    int waited = 0, step;
    for (;;) {
        step = sqlite3_backup_step(bk, pages);
        if (step == SQLITE_DONE) break;
        if (step == SQLITE_OK) {
            if (pause_ms > 0) sqlite3_sleep(pause_ms);
        } else if ((step == SQLITE_BUSY || step == SQLITE_LOCKED) && waited < BUSY_WAIT_MS) {
            sqlite3_sleep(10);
            waited += 10;
        } else {
            break;
        }
    }
    int finished = sqlite3_backup_finish(bk);
    bk = NULL;
    if (step != SQLITE_DONE || finished != SQLITE_OK) {
        errbuf_set(cause, n, "copying into %s failed: %s", dst_path,
             step == SQLITE_BUSY || step == SQLITE_LOCKED ? "the database stayed locked for 30 s"
                                                          : sqlite3_errstr(step != SQLITE_DONE ? step : finished));
        goto out;
    }
    /* The copy has the journal's header, WAL mode included; as one file it
     * can be moved and read anywhere. The bridge turns WAL on again. */
    if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        errbuf_set(cause, n, "cannot finish %s: %s", dst_path, sqlite3_errmsg(dst));
        goto out;
    }
    rc = 0;
out:
    if (bk) sqlite3_backup_finish(bk);
    if (dst && sqlite3_close(dst) != SQLITE_OK && rc == 0) rc = errbuf_set(cause, n, "cannot close %s", dst_path);
    return rc;
}

int jb_backup(const char *journal, const char *dest, const jb_backup_opts *opts, jb_summary *out, char *err,
              size_t errlen)
{
    char cause[1024], folder[PATH_MAX];
    sqlite3 *src = NULL;
    char *partial = NULL;
    int rc = -1, in_txn = 0;
    struct stat st;
    if (out) memset(out, 0, sizeof *out);

    if (stat(journal, &st) != 0)
        return errbuf_set(err, errlen, "no journal at %s (%s); check KB_DATA_DIR (the bridge creates the journal when it "
                                 "first starts)", journal, strerror(errno));
    if (exists(dest)) return errbuf_set(err, errlen, "%s exists; choose a new file name, or delete it first", dest);
    folder_of(dest, folder, sizeof folder);
    if (access(folder, W_OK) != 0)
        return errbuf_set(err, errlen, "cannot write into %s: %s; create the folder, or write the backup elsewhere",
                    folder, strerror(errno));
    partial = cat(dest, ".partial");
    if (!partial) return errbuf_set(err, errlen, "out of memory; try again");
    remove_db(partial); /* what a backup that was killed left */

    if (sqlite3_open_v2(journal, &src, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        errbuf_set(err, errlen, "cannot open the journal %s: %s; run as root or as the bridge's user", journal,
             src ? sqlite3_errmsg(src) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(src, BUSY_TIMEOUT_MS);
    /* One read transaction for the whole copy: its snapshot is what is
     * copied, and in WAL mode it never blocks the bridge's commits. */
    if (sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK) {
        errbuf_set(err, errlen, "cannot read the journal %s: %s; check it with `kb-journal info %s`", journal,
             sqlite3_errmsg(src), journal);
        goto out;
    }
    in_txn = 1;
    int pages = opts && opts->step_pages > 0 ? opts->step_pages : JB_STEP_PAGES;
    if (copy_db(src, partial, pages, opts ? opts->pause_ms : 0, cause, sizeof cause) != 0) {
        errbuf_set(err, errlen, "%s; check the free space and try again", cause);
        goto out;
    }
    sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
    in_txn = 0;
    sqlite3_close(src);
    src = NULL;

    /* The backup may hold what the journal holds: customers' names. */
    if (chmod(partial, st.st_mode & 0660) != 0) {
        errbuf_set(err, errlen, "cannot set the mode of %s: %s; check the folder", partial, strerror(errno));
        goto out;
    }
    jb_summary sum;
    if (inspect(partial, 1, out ? out : &sum, cause, sizeof cause) != FOUND_OK) {
        errbuf_set(err, errlen, "the copy does not pass its check: %s; the journal itself may be damaged: check it with "
                          "`kb-journal info %s`", cause, journal);
        goto out;
    }
    if (!out) jb_summary_free(&sum);
    if (sync_path(partial, 0) != 0) {
        errbuf_set(err, errlen, "cannot write %s to disk: %s; check the disk", partial, strerror(errno));
        goto out;
    }
    /* link() does not replace a file that appeared meanwhile; rename() is
     * for file systems without hard links (a FAT stick). */
    if (link(partial, dest) == 0) {
        unlink(partial);
    } else if (errno == EEXIST) {
        errbuf_set(err, errlen, "%s exists; choose a new file name, or delete it first", dest);
        goto out;
    } else if (rename(partial, dest) != 0) {
        errbuf_set(err, errlen, "cannot name the backup %s: %s; check the folder", dest, strerror(errno));
        goto out;
    }
    sync_path(folder, 1);
    rc = 0;
out:
    if (in_txn) sqlite3_exec(src, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(src);
    if (rc != 0) {
        remove_db(partial);
        if (out) jb_summary_free(out);
    }
    free(partial);
    return rc;
}

/* pid of a process holding one of SQLite's locks on `path` between
 * `start` and start + len, 0 if none (or no such file). The probe opens and
 * closes the file, and closing any descriptor of a file drops this
 * process's own POSIX locks on it: it runs before this process opens the
 * journal with SQLite. */
static long lock_holder(const char *path, off_t start, off_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    long pid = 0;
    if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) pid = fl.l_pid > 0 ? (long)fl.l_pid : -1;
    close(fd);
    return pid;
}

static int in_use(char *err, size_t errlen, const char *journal, long pid)
{
    char comm[64] = "";
    if (pid > 0) {
        char p[64];
        snprintf(p, sizeof p, "/proc/%ld/comm", pid);
        FILE *f = fopen(p, "r"); /* the holder's name, for the message */
        if (f) {
            if (!fgets(comm, sizeof comm, f)) comm[0] = '\0';
            fclose(f);
            comm[strcspn(comm, "\n")] = '\0';
        }
    }
    char who[128];
    if (pid > 0) snprintf(who, sizeof who, "process %ld (%s)", pid, comm[0] ? comm : "?");
    else snprintf(who, sizeof who, "another process");
    return errbuf_set(err, errlen, "the journal %s is in use by %s; stop the bridge first (systemctl stop "
                             "kitchen-bus-bridge, or Ctrl-C ./kitchen-bus run) and restore again", journal, who);
}

/* Seqs go on from where the replaced journal was, never back: a screen that
 * stayed on and head office both drop a seq they have seen. Each tenant's
 * highest seq in the old journal becomes a seq floor in the new one (meta
 * 'seq_floor:<tenant>', which the bridge's journal_last_seq counts). */
static int carry_seq_floors(sqlite3 *old, const char *dst_path, char *cause, size_t n)
{
    static const char last_seqs[] =
        "SELECT tenant, max(s) FROM (SELECT tenant, seq AS s FROM events UNION ALL SELECT tenant, seq FROM orders"
        " UNION ALL SELECT substr(k, 11), CAST(v AS INTEGER) FROM meta WHERE k GLOB 'seq_floor:*') GROUP BY tenant";
    sqlite3 *dst = NULL;
    sqlite3_stmt *rd = NULL, *wr = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(old, last_seqs, -1, &rd, NULL) != SQLITE_OK) {
        snprintf(cause, n, "cannot read the old journal's seqs: %s", sqlite3_errmsg(old));
        goto out;
    }
    if (sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(dst, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(dst, "INSERT INTO meta(k, v) VALUES('seq_floor:' || ?1, ?2) ON CONFLICT(k) DO UPDATE SET "
                                "v=max(CAST(v AS INTEGER), CAST(excluded.v AS INTEGER))", -1, &wr, NULL) != SQLITE_OK)
        goto dst_failed;
    int step;
    while ((step = sqlite3_step(rd)) == SQLITE_ROW) {
        sqlite3_reset(wr);
        sqlite3_bind_value(wr, 1, sqlite3_column_value(rd, 0));
        sqlite3_bind_int64(wr, 2, sqlite3_column_int64(rd, 1));
        if (sqlite3_step(wr) != SQLITE_DONE) goto dst_failed;
    }
    if (step != SQLITE_DONE) {
        snprintf(cause, n, "cannot read the old journal's seqs: %s", sqlite3_errmsg(old));
        goto out;
    }
    if (sqlite3_exec(dst, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto dst_failed;
    rc = 0;
    goto out;
dst_failed:
    snprintf(cause, n, "cannot carry the seqs into %s: %s", dst_path, dst ? sqlite3_errmsg(dst) : "out of memory");
out:
    sqlite3_finalize(rd);
    sqlite3_finalize(wr);
    sqlite3_close(dst); /* an open transaction is rolled back */
    return rc;
}

int jb_restore(const char *backup, const char *journal, jb_summary *out, jb_restore_result *res, char *err,
               size_t errlen)
{
    char cause[1024], folder[PATH_MAX];
    char *before = NULL, *tmp = NULL, *wal = NULL, *shm = NULL, *before_wal = NULL;
    sqlite3 *src = NULL, *old = NULL;
    int rc = -1, tmp_made = 0, moved_old = 0;
    memset(res, 0, sizeof *res);
    memset(out, 0, sizeof *out);

    before = cat(journal, ".before-restore");
    tmp = cat(journal, ".restoring");
    wal = cat(journal, "-wal");
    shm = cat(journal, "-shm");
    before_wal = before ? cat(before, "-wal") : NULL;
    if (!before || !tmp || !wal || !shm || !before_wal) {
        errbuf_set(err, errlen, "out of memory; try again");
        goto out;
    }

    /* ---- every refusal comes before anything is changed ---- */
    char real_backup[PATH_MAX], real_journal[PATH_MAX];
    if (realpath(backup, real_backup) && realpath(journal, real_journal) && strcmp(real_backup, real_journal) == 0) {
        errbuf_set(err, errlen, "%s is the journal itself; name a backup file", backup);
        goto out;
    }
    if (jb_inspect(backup, 1, NULL, err, errlen) != 0) goto out;
    if (exists(before) || exists(before_wal)) {
        errbuf_set(err, errlen, "%s exists (kept by an earlier restore); move it away or delete it, then restore again",
             exists(before) ? before : before_wal);
        goto out;
    }
    struct stat own;
    int have_old = stat(journal, &own) == 0;
    mode_t mode = have_old ? own.st_mode & 07777 : 0640;
    folder_of(journal, folder, sizeof folder);
    if (!have_old && stat(folder, &own) != 0) {
        errbuf_set(err, errlen, "cannot use the folder %s: %s; check KB_DATA_DIR", folder, strerror(errno));
        goto out;
    }
    /* Lock check 1: any process with the journal open in SQLite holds a
     * lock on it (a WAL connection holds a shared lock for its whole life). */
    long holder = lock_holder(journal, DB_LOCK_START, DB_LOCK_LEN);
    if (!holder) holder = lock_holder(shm, SHM_LOCK_START, SHM_LOCK_LEN);
    if (holder) {
        in_use(err, errlen, journal, holder);
        goto out;
    }

    /* ---- the new journal, complete and checked, beside the old one ---- */
    remove_db(tmp); /* what a restore that was killed left */
    tmp_made = 1;
    if (open_immutable(backup, &src, cause, sizeof cause) != 0 ||
        copy_db(src, tmp, -1, 0, cause, sizeof cause) != 0) {
        errbuf_set(err, errlen, "%s; check the free space in %s and try again", cause, folder);
        goto out;
    }
    sqlite3_close(src);
    src = NULL;
    int fd = open(tmp, O_RDONLY | O_CLOEXEC); /* to give the copy the old journal's owner and mode */
    if (fd < 0) {
        errbuf_set(err, errlen, "cannot open %s: %s; check the folder", tmp, strerror(errno));
        goto out;
    }
    struct stat cur;
    int failed = fstat(fd, &cur) != 0 ||
                 ((cur.st_uid != own.st_uid || cur.st_gid != own.st_gid) && fchown(fd, own.st_uid, own.st_gid) != 0);
    int saved = errno;
    if (failed) {
        close(fd);
        errbuf_set(err, errlen, "cannot give the restored journal the owner %ld:%ld of the %s: %s; run kitchen-bus "
                          "restore as root", (long)own.st_uid, (long)own.st_gid,
             have_old ? "old journal" : "journal's folder", strerror(saved));
        goto out;
    }
    failed = fchmod(fd, mode) != 0 || fsync(fd) != 0;
    saved = errno;
    close(fd);
    if (failed) {
        errbuf_set(err, errlen, "cannot finish %s: %s; check the disk", tmp, strerror(saved));
        goto out;
    }
    if (inspect(tmp, 0, out, cause, sizeof cause) != FOUND_OK) {
        errbuf_set(err, errlen, "the copy does not pass its check: %s; check the disk and try again", cause);
        goto out;
    }

    /* ---- the old journal: checkpointed under an exclusive lock, then kept ---- */
    if (have_old) {
        if (sqlite3_open_v2(journal, &old, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
            errbuf_set(err, errlen, "cannot open the journal %s: %s; run kitchen-bus restore as root", journal,
                 old ? sqlite3_errmsg(old) : "out of memory");
            goto out;
        }
        sqlite3_busy_timeout(old, LOCK_TIMEOUT_MS);
        /* Lock check 2: an exclusive lock, held until the old journal has
         * been moved. In WAL mode it is taken when the WAL is opened, and
         * fails while any other connection has the journal open. */
        int r = sqlite3_exec(old, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT", NULL, NULL, NULL);
        if (r == SQLITE_BUSY || r == SQLITE_LOCKED) {
            in_use(err, errlen, journal, lock_holder(journal, DB_LOCK_START, DB_LOCK_LEN));
            goto out;
        }
        if (r == SQLITE_NOTADB || r == SQLITE_CORRUPT) {
            res->old_damaged = 1; /* kept as it is, its WAL with it */
        } else if (r != SQLITE_OK) {
            errbuf_set(err, errlen, "cannot lock the journal %s: %s; stop the bridge and check the folder's permissions",
                 journal, sqlite3_errmsg(old));
            goto out;
        } else if (sqlite3_exec(old, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
            /* The WAL could not be folded in: it goes with the file below. */
            res->old_damaged = 1;
        } else if (carry_seq_floors(old, tmp, cause, sizeof cause) != 0) {
            errbuf_set(err, errlen, "%s; check the disk and try again", cause);
            goto out;
        }
        if (rename(journal, before) != 0) {
            errbuf_set(err, errlen, "cannot rename %s to %s: %s; check the folder's permissions", journal, before,
                 strerror(errno));
            goto out;
        }
        moved_old = 1;
        res->kept_old = 1;
        snprintf(res->kept, sizeof res->kept, "%s", before);
    }
    /* A -wal left now belongs to the old journal (or to none, if it is
     * gone): it goes with it, never to be replayed into the new one. A -shm
     * is only an index of a WAL and is rebuilt from it. */
    if (size_of(wal) >= 0) {
        if (rename(wal, before_wal) != 0) {
            errbuf_set(err, errlen, "cannot rename %s to %s: %s; check the folder's permissions", wal, before_wal,
                 strerror(errno));
            goto out;
        }
        res->moved_wal = 1;
    }
    if (unlink(shm) != 0 && errno != ENOENT) {
        errbuf_set(err, errlen, "cannot remove %s: %s; check the folder's permissions", shm, strerror(errno));
        goto out;
    }
    if (rename(tmp, journal) != 0) {
        errbuf_set(err, errlen, "cannot rename %s to %s: %s; check the folder's permissions", tmp, journal,
             strerror(errno));
        goto out;
    }
    tmp_made = 0;
    sync_path(folder, 1);
    rc = 0;
out:
    if (rc != 0 && moved_old) {
        /* Back as it was: the old journal and its WAL. */
        if (res->moved_wal) rename(before_wal, wal);
        rename(before, journal);
        res->kept_old = res->moved_wal = 0;
    } else if (rc != 0 && res->moved_wal) {
        rename(before_wal, wal);
        res->moved_wal = 0;
    }
    sqlite3_close(old);
    sqlite3_close(src);
    if (tmp_made) remove_db(tmp);
    if (rc != 0) jb_summary_free(out);
    free(before);
    free(tmp);
    free(wal);
    free(shm);
    free(before_wal);
    return rc;
}
