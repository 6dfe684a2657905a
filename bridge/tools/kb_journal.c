/* kb_journal.c - kb-journal: backs up the bridge's journal while orders flow,
 * puts a backup back on a stopped bus, and describes a journal or backup.
 *
 *   kb-journal backup <journal.db> <backup.db> [--step-pages N] [--pause-ms MS]
 *   kb-journal restore <backup.db> <journal.db>
 *   kb-journal info <file.db>
 *   kb-journal orders <file.db>
 *
 * Run by `kitchen-bus backup` and `kitchen-bus restore` (which find the
 * journal under KB_DATA_DIR and check that no bridge runs on it); the work
 * is in src/core/journal_backup.c. backup, restore and info print what the file
 * holds on stdout:
 *
 *   wrote /var/lib/kitchen-bus/backups/journal-2024-05-01T033012Z.db: 118784 bytes, 3 open orders (41 in all), 97 events, schema 2
 *     tenant main: last seq 97, 3 open orders (41 in all)
 *
 * orders prints one line per row of the orders table, tab-separated:
 * tenant, order number, status, "open" or "closed", seq. Every error is one
 * line "kitchen-bus: error: <cause>; <fix>" on stderr, exit status 1. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_backup.h"

#define USAGE "usage: kb-journal backup JOURNAL BACKUP [--step-pages N] [--pause-ms MS] | restore BACKUP JOURNAL | " \
              "info FILE | orders FILE"

static int fail(const char *msg)
{
    fprintf(stderr, "kitchen-bus: error: %s\n", msg);
    return 1;
}

static void print_summary(const char *verb, const char *path, const jb_summary *s)
{
    printf("%s %s: %" PRId64 " bytes, %" PRId64 " open orders (%" PRId64 " in all), %" PRId64 " events, schema %s\n",
           verb, path, s->bytes, s->open, s->orders, s->events, s->schema);
    for (size_t i = 0; i < s->n_tenants; i++)
        printf("  tenant %s: last seq %" PRId64 ", %" PRId64 " open orders (%" PRId64 " in all)\n",
               s->tenants[i].tenant, s->tenants[i].last_seq, s->tenants[i].open, s->tenants[i].orders);
}

/* A whole number from 0 to max, or -1. */
static long number(const char *s, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno || end == s || *end || v < 0 || v > max ? -1 : v;
}

static int print_order(void *ctx, const char *tenant, const char *order_number, const char *status, int open,
                       int64_t seq)
{
    (void)ctx;
    return printf("%s\t%s\t%s\t%s\t%" PRId64 "\n", tenant, order_number, status, open ? "open" : "closed", seq) < 0;
}

static int cmd_backup(int argc, char **argv)
{
    jb_backup_opts opts = {0};
    for (int i = 4; i < argc; i += 2) {
        long v = i + 1 < argc ? number(argv[i + 1], 100000) : -1;
        if (strcmp(argv[i], "--step-pages") == 0 && v > 0) opts.step_pages = (int)v;
        else if (strcmp(argv[i], "--pause-ms") == 0 && v >= 0) opts.pause_ms = (int)v;
        else return fail(USAGE "; --step-pages takes 1 to 100000, --pause-ms 0 to 100000");
    }
    char err[2048];
    jb_summary s;
    if (jb_backup(argv[2], argv[3], &opts, &s, err, sizeof err) != 0) return fail(err);
    print_summary("wrote", argv[3], &s);
    jb_summary_free(&s);
    return 0;
}

static int cmd_restore(char **argv)
{
    char err[2048];
    jb_summary s;
    jb_restore_result r;
    if (jb_restore(argv[2], argv[3], &s, &r, err, sizeof err) != 0) return fail(err);
    print_summary("restored", argv[3], &s);
    printf("  from %s\n", argv[2]);
    if (r.kept_old && r.old_damaged)
        printf("  the previous journal could not be read; it is kept as it was: %s%s\n", r.kept,
               r.moved_wal ? " (and its WAL, -wal)" : "");
    else if (r.kept_old)
        printf("  the previous journal is kept as %s%s\n", r.kept, r.moved_wal ? " (and its WAL, -wal)" : "");
    else if (r.moved_wal)
        printf("  a WAL without its journal was moved aside: %s.before-restore-wal\n", argv[3]);
    jb_summary_free(&s);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    char err[2048];
    int rc;
    if (strcmp(cmd, "backup") == 0 && argc >= 4 && argc % 2 == 0) {
        rc = cmd_backup(argc, argv);
    } else if (strcmp(cmd, "restore") == 0 && argc == 4) {
        rc = cmd_restore(argv);
    } else if (strcmp(cmd, "info") == 0 && argc == 3) {
        jb_summary s;
        if (jb_inspect(argv[2], 1, &s, err, sizeof err) != 0) return fail(err);
        print_summary("journal", argv[2], &s);
        jb_summary_free(&s);
        rc = 0;
    } else if (strcmp(cmd, "orders") == 0 && argc == 3) {
        rc = jb_for_each_order(argv[2], print_order, NULL, err, sizeof err) != 0 ? fail(err) : 0;
    } else {
        return fail(USAGE "; see docs/OUTLET-SETUP.md, section 6");
    }
    if (rc == 0 && fflush(stdout) != 0) return fail("cannot print the result; check where stdout goes");
    return rc;
}
