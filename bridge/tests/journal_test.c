/* journal_test.c - the journal on a real SQLite file: order instances (one
 * order number used again after its order closed) and the migration of a
 * version 1 journal (one row per order number) when it is opened, and
 * retention (prune). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "journal.h"
#include "order_fingerprint.h"

#include "check.h"
#include "journal_files.h"

static char dir[] = "/tmp/kb-journal-test-XXXXXX";

static void fingerprint_of_doc(const char *doc, char out[ORDER_FINGERPRINT_HEX + 1])
{
    cJSON *v = cJSON_Parse(doc);
    CHECK(v && order_fingerprint(v, out) == 0);
    cJSON_Delete(v);
}

/* PRAGMA auto_vacuum of a file: 2 is INCREMENTAL. */
static int auto_vacuum_of(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int mode = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, "PRAGMA auto_vacuum", -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW) mode = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return mode;
}

static void path_in_dir(char *buf, size_t len, const char *name) { snprintf(buf, len, "%s/%s", dir, name); }

static void test_instances(void)
{
    char path[512], err[256];
    path_in_dir(path, sizeof path, "instances.db");
    journal *j = NULL;
    CHECK(journal_open(&j, path, err, sizeof err) == 0);
    if (!j) return;
    journal_order first = {.status = ORDER_STATUS_NEW, .seq = 1, .created_seq = 1, .doc = "{\"order_number\":\"17\"}"};
    snprintf(first.fingerprint, sizeof first.fingerprint, "aaa");
    CHECK(journal_put_change(j, "pizza", "17", &first, "{\"event\":\"created\"}") == 0);
    journal_order served = first;
    served.status = ORDER_STATUS_SERVED;
    served.seq = 2;
    served.closed_at_ms = 1234;
    CHECK(journal_put_change(j, "pizza", "17", &served, "{\"event\":\"closed\"}") == 0);
    journal_order again = {.status = ORDER_STATUS_NEW, .seq = 3, .created_seq = 3, .doc = "{\"order_number\":\"17\",\"x\":1}"};
    snprintf(again.fingerprint, sizeof again.fingerprint, "bbb");
    CHECK(journal_put_change(j, "pizza", "17", &again, "{\"event\":\"created\"}") == 0);
    CHECK(journal_commit(j) == 0);

    journal_order got = {0};
    CHECK(journal_get_order(j, "pizza", "17", &got) == 1);
    CHECK(got.created_seq == 3 && got.status == ORDER_STATUS_NEW && strcmp(got.fingerprint, "bbb") == 0);
    CHECK(got.closed_at_ms == 0);
    free(got.doc);
    CHECK(journal_open_total(j) == 1);
    CHECK(journal_last_seq(j, "pizza") == 3);
    journal_close(j);
    CHECK(auto_vacuum_of(path) == 2);

    /* The closed instance is kept as it was. */
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_stmt *s;
    CHECK(sqlite3_prepare_v2(db, "SELECT created_seq, status, closed_at FROM orders WHERE order_number='17' "
                                 "ORDER BY created_seq", -1, &s, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) == 1 &&
          strcmp((const char *)sqlite3_column_text(s, 1), "served") == 0 && sqlite3_column_int64(s, 2) == 1234);
    CHECK(sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) == 3 && sqlite3_column_type(s, 2) == SQLITE_NULL);
    CHECK(sqlite3_step(s) == SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
    remove_db(path);
}

static void test_migration_from_v1(void)
{
    char path[512], err[256];
    path_in_dir(path, sizeof path, "v1.db");
    static const char open_doc[] = "{\"order_number\":\"A-1\",\"tenant_id\":\"pizza\",\"items\":[{\"name\":\"Pie\",\"qty\":1}],"
                                   "\"status\":\"preparing\",\"seq\":4,\"created_seq\":1,\"received_at\":\"r\",\"updated_at\":\"u\"}";
    static const char closed_doc[] = "{\"order_number\":\"17\",\"tenant_id\":\"pizza\",\"items\":[{\"name\":\"Cola\",\"qty\":2}],"
                                     "\"status\":\"served\",\"seq\":6,\"created_seq\":5}";
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    char sql[2048];
    snprintf(sql, sizeof sql,
             "PRAGMA journal_mode=WAL;"
             "CREATE TABLE orders(tenant TEXT NOT NULL, order_number TEXT NOT NULL, status TEXT NOT NULL,"
             " open INTEGER NOT NULL, seq INTEGER NOT NULL, created_seq INTEGER NOT NULL,"
             " doc TEXT NOT NULL, PRIMARY KEY(tenant, order_number)) WITHOUT ROWID;"
             "CREATE INDEX orders_open ON orders(open) WHERE open=1;"
             "CREATE TABLE events(tenant TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL,"
             " PRIMARY KEY(tenant, seq)) WITHOUT ROWID;"
             "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;"
             "INSERT INTO orders VALUES('pizza','A-1','preparing',1,4,1,'%s');"
             "INSERT INTO orders VALUES('pizza','17','served',0,6,5,'%s');"
             "INSERT INTO events VALUES('pizza',6,'{}');",
             open_doc, closed_doc);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);

    journal *j = NULL;
    CHECK(journal_open(&j, path, err, sizeof err) == 0);
    if (!j) {
        fprintf(stderr, "journal_open: %s\n", err);
        return;
    }
    char fp[ORDER_FINGERPRINT_HEX + 1];
    journal_order got = {0};
    CHECK(journal_get_order(j, "pizza", "A-1", &got) == 1);
    fingerprint_of_doc(open_doc, fp);
    CHECK(got.status == ORDER_STATUS_PREPARING && got.seq == 4 && got.created_seq == 1 && got.closed_at_ms == 0);
    CHECK(strcmp(got.fingerprint, fp) == 0);
    CHECK(got.doc && strcmp(got.doc, open_doc) == 0);
    free(got.doc);
    CHECK(journal_get_order(j, "pizza", "17", &got) == 1);
    fingerprint_of_doc(closed_doc, fp);
    CHECK(got.status == ORDER_STATUS_SERVED && got.closed_at_ms > 0 && strcmp(got.fingerprint, fp) == 0);
    free(got.doc);
    CHECK(journal_open_total(j) == 1);
    CHECK(journal_last_seq(j, "pizza") == 6);
    journal_close(j);
    CHECK(auto_vacuum_of(path) == 2);
    /* Opening it again finds version 2 and leaves it alone. */
    CHECK(journal_open(&j, path, err, sizeof err) == 0);
    if (j) {
        CHECK(journal_open_total(j) == 1);
        journal_close(j);
    }
    remove_db(path);
}

static int64_t cap;
static int64_t prunable_upto(void *ctx, const char *tenant)
{
    (void)ctx;
    return strcmp(tenant, "burger") == 0 ? cap : INT64_MAX;
}

/* Writes instance `cs` of `number` for `tenant`: created at seq cs, closed
 * at seq cs + 1 at closed_at (0: left open). */
static void put_instance(journal *j, const char *tenant, const char *number, int64_t cs, int64_t closed_at)
{
    journal_order o = {.status = ORDER_STATUS_NEW, .seq = cs, .created_seq = cs, .doc = "{}"};
    snprintf(o.fingerprint, sizeof o.fingerprint, "f%lld", (long long)cs);
    CHECK(journal_put_change(j, tenant, number, &o, "{\"event\":\"created\"}") == 0);
    if (!closed_at) return;
    o.status = ORDER_STATUS_SERVED;
    o.seq = cs + 1;
    o.closed_at_ms = closed_at;
    CHECK(journal_put_change(j, tenant, number, &o, "{\"event\":\"closed\"}") == 0);
}

static void test_prune(void)
{
    char path[512], err[256];
    path_in_dir(path, sizeof path, "prune.db");
    journal *j = NULL;
    CHECK(journal_open(&j, path, err, sizeof err) == 0);
    if (!j) return;
    put_instance(j, "pizza", "1", 1, 1000);   /* old, closed: pruned */
    put_instance(j, "pizza", "2", 3, 1000);   /* old, closed: pruned */
    put_instance(j, "pizza", "3", 5, 0);      /* open: kept */
    put_instance(j, "pizza", "4", 7, 9000);   /* closed after the cutoff: kept */
    put_instance(j, "burger", "1", 1, 1000);  /* old, but head office has only seq 1: kept */
    put_instance(j, "burger", "2", 3, 1000);  /* old, closed: kept (its last seq 4 > cap) */
    CHECK(journal_commit(j) == 0);
    journal_prune_stats st;
    cap = 1;
    CHECK(journal_prune(j, 5000, 100, prunable_upto, NULL, &st) == 0);
    CHECK(st.orders == 2 && st.events == 4);
    journal_size size;
    CHECK(journal_stats(j, &size) == 0);
    CHECK(size.orders == 4 && size.events == 11 - 4 && size.bytes > 0 && size.oldest_closed_ms == 1000);
    /* The tenant's seq never goes back, even with every event gone. */
    CHECK(journal_last_seq(j, "pizza") == 8);
    cap = 4;
    CHECK(journal_prune(j, 5000, 1, prunable_upto, NULL, &st) == 0 && st.orders == 1 && st.events == 2);
    CHECK(journal_prune(j, 5000, 100, prunable_upto, NULL, &st) == 0 && st.orders == 1 && st.events == 2);
    CHECK(journal_prune(j, 5000, 100, prunable_upto, NULL, &st) == 0 && st.orders == 0 && st.events == 0);
    CHECK(journal_last_seq(j, "burger") == 4);
    journal_order got = {0};
    CHECK(journal_get_order(j, "pizza", "3", &got) == 1 && got.status == ORDER_STATUS_NEW);
    free(got.doc);
    CHECK(journal_get_order(j, "pizza", "1", &got) == 0);
    /* The row counts /metrics shows are kept, not counted: a rolled-back
     * batch leaves them as they were. */
    put_instance(j, "pizza", "6", 20, 0);
    journal_abort(j);
    CHECK(journal_stats(j, &size) == 0 && size.orders == 2 && size.events == 3);
    /* Never inside the order service's batch. */
    put_instance(j, "pizza", "5", 9, 1000);
    CHECK(journal_prune(j, 5000, 100, NULL, NULL, &st) == 0 && st.orders == 0);
    CHECK(journal_commit(j) == 0);
    CHECK(journal_prune(j, 5000, 100, NULL, NULL, &st) == 0 && st.orders == 1);
    journal_close(j);
    remove_db(path);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_instances();
    test_migration_from_v1();
    test_prune();
    rmdir(dir);
    return check_report();
}
