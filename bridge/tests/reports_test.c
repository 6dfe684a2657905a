/* reports_test.c - core/reports.c on a real journal: orders written through
 * journal_put_change on the test clock, then reports read in slices of one
 * row and in one slice must say exactly the same; the summary rows follow
 * each change (first times only, recalls, station parts from the document);
 * retention deletes them with their instance; tz parsing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "clock.h"
#include "journal.h"
#include "journal_files.h"
#include "registry.h"
#include "reports.h"

#define T0 1793620800000LL /* 2026-11-02T10:00:00Z */
#define MIN 60000LL

static journal *j;
static int64_t seq;

/* One change of order `number` (instance created_seq) at T0 + minutes. */
static void change(const char *number, int64_t created_seq, order_status st, double minutes, const char *doc)
{
    kb_clock_set_test(T0 + (long long)(minutes * MIN));
    int64_t mine = ++seq;
    journal_order o = {.status = st, .seq = mine, .created_seq = created_seq ? created_seq : mine, .doc = (char *)doc,
                       .closed_at_ms = order_status_is_open(st) ? 0 : kb_wall_ms()};
    strcpy(o.fingerprint, "f");
    CHECK(journal_put_change(j, "pizza", number, &o, "{}") == 0);
}

/* The report's JSON, read `slice` rows at a time, each slice also bounded
 * to max_ms if it is > 0. */
static char *run(const registry *r, const char *path, report_by by, int slice, double max_ms, const char *tenant)
{
    char err[256];
    report_query q = {tenant, T0 - 60 * MIN, T0 + 24 * 60 * MIN, by, 0};
    report *rp = report_start(path, &q, r, err, sizeof err);
    CHECK(rp != NULL);
    if (!rp) return NULL;
    int rc, steps = 0;
    while ((rc = report_step(rp, slice, max_ms, err, sizeof err)) == 0) steps++;
    CHECK(rc == 1);
    if (slice == 1 || max_ms > 0) CHECK(steps > 5); /* it really went in slices */
    char *json = report_json(rp, 30);
    report_free(rp);
    return json;
}

static double num(const cJSON *o, const char *path)
{
    char copy[128];
    snprintf(copy, sizeof copy, "%s", path);
    const cJSON *at = o;
    for (char *k = strtok(copy, "."); k && at; k = strtok(NULL, "."))
        at = cJSON_IsArray(at) ? cJSON_GetArrayItem(at, atoi(k)) : cJSON_GetObjectItemCaseSensitive(at, k);
    return cJSON_IsNumber(at) ? at->valuedouble : NAN;
}

int main(void)
{
    const char *path = "/tmp/kb-reports-test.db";
    char err[256];
    remove_db(path);
    CHECK(journal_open(&j, path, err, sizeof err) == 0);
    registry *r = NULL;
    const char *reg = "{\"outlet\":{\"id\":\"o\"},\"tenants\":[{\"id\":\"pizza\",\"stations\":[\"oven\",\"bar\"],"
                      "\"late_after\":\"5m\",\"devices\":[]}],\"admins\":[{\"username\":\"admin\"}]}";
    CHECK(registry_parse(reg, strlen(reg), &r, err, sizeof err) == 0);
    if (!j || !r) return check_report();

    /* A: new 0, accepted 1, preparing 2, ready 4, recalled 5, ready 7, served 8. */
    const char *two = "{\"stations\":{\"oven\":\"new\",\"bar\":\"new\"}}";
    change("A", 0, ORDER_STATUS_NEW, 0, two);
    int64_t a = seq;
    change("A", a, ORDER_STATUS_ACCEPTED, 1, two);
    change("A", a, ORDER_STATUS_PREPARING, 2, "{\"stations\":{\"oven\":\"preparing\",\"bar\":\"ready\"}}");
    change("A", a, ORDER_STATUS_READY, 4, "{\"stations\":{\"oven\":\"ready\",\"bar\":\"ready\"}}");
    CHECK(journal_last_ticket_ms(j) == 4 * MIN);
    change("A", a, ORDER_STATUS_PREPARING, 5, "{\"stations\":{\"oven\":\"preparing\",\"bar\":\"preparing\"}}");
    change("A", a, ORDER_STATUS_READY, 7, "{\"stations\":{\"oven\":\"ready\",\"bar\":\"ready\"}}");
    CHECK(journal_last_ticket_ms(j) == -1); /* not the first ready */
    change("A", a, ORDER_STATUS_SERVED, 8, "{}");
    /* B..K: ten orders 60 min later, tickets 1..10 minutes; C cancelled instead. */
    for (int i = 0; i < 10; i++) {
        char number[8];
        snprintf(number, sizeof number, "N%d", i);
        change(number, 0, ORDER_STATUS_NEW, 60 + i, "{}");
        int64_t c = seq;
        if (i == 2) {
            change(number, c, ORDER_STATUS_CANCELLED, 61 + i, "{}");
            continue;
        }
        change(number, c, ORDER_STATUS_ACCEPTED, 60 + i + 0.5, "{}");
        change(number, c, ORDER_STATUS_PREPARING, 60 + i + 0.6, "{}");
        change(number, c, ORDER_STATUS_READY, 60 + i + (i + 1), "{}");
    }
    CHECK(journal_commit(j) == 0);

    char *one = run(r, path, REPORT_BY_HOUR, 1, 0, NULL), *all = run(r, path, REPORT_BY_HOUR, 100000, 0, NULL);
    CHECK(one && all && strcmp(one, all) == 0);
    /* Slices bounded by time (a nanosecond: one group's figures per slice) agree. */
    char *timed = run(r, path, REPORT_BY_HOUR, 100000, 1e-6, NULL);
    CHECK(timed && all && strcmp(timed, all) == 0);
    free(timed);
    cJSON *doc = one ? cJSON_Parse(one) : NULL;
    CHECK(num(doc, "totals.0.orders") == 11 && num(doc, "totals.0.cancelled") == 1 && num(doc, "totals.0.recalls") == 1);
    /* Tickets (s): A 240, then 60,120,240,...,600 without i=2 (180). */
    CHECK(num(doc, "totals.0.ticket.count") == 10);
    CHECK(num(doc, "totals.0.ticket.max_s") == 600);
    CHECK(num(doc, "totals.0.ticket.p50_s") == 300); /* sorted 60,120,240,240,300,...: rank 5 of 10 */
    CHECK(num(doc, "totals.0.ticket.p90_s") == 540); /* rank 9 */
    CHECK(num(doc, "totals.0.late") == 5);           /* over 5 min: 360..600 */
    CHECK(num(doc, "rows.0.orders") == 1 && num(doc, "rows.1.orders") == 10);
    CHECK(num(doc, "stations.0.ready.max_s") == 240 && num(doc, "stations.1.ready.max_s") == 120); /* oven 4 min, bar 2 */
    CHECK(num(doc, "slowest.0.ticket_s") == 600);
    cJSON_Delete(doc);
    free(one);
    free(all);

    /* by day and station, sliced and not, agree too. */
    for (int by = REPORT_BY_DAY; by <= REPORT_BY_STATION; by++) {
        char *x = run(r, path, (report_by)by, 1, 0, NULL), *y = run(r, path, (report_by)by, 100000, 0, NULL);
        CHECK(x && y && strcmp(x, y) == 0);
        free(x);
        free(y);
    }

    /* Retention deletes the summary rows with their instance: the two closed
     * ones (A served, N2 cancelled) go; the open ones stay. */
    kb_clock_set_test(T0 + 48 * 60 * MIN);
    journal_prune_stats st;
    CHECK(journal_prune(j, T0 + 47 * 60 * MIN, 1000, NULL, NULL, &st) == 0 && st.orders == 2);
    char *after = run(r, path, REPORT_BY_HOUR, 1000, 0, NULL);
    doc = after ? cJSON_Parse(after) : NULL;
    CHECK(num(doc, "totals.0.orders") == 9 && num(doc, "totals.0.cancelled") == 0 && num(doc, "totals.0.recalls") == 0);
    CHECK(num(doc, "stations.0.ready.count") == 0); /* only A had parts */
    cJSON_Delete(doc);
    free(after);

    int m;
    CHECK(report_parse_tz("+07:00", &m) == 0 && m == 420);
    CHECK(report_parse_tz(" 05:30", &m) == 0 && m == 330); /* '+' decoded as a space */
    CHECK(report_parse_tz("-03:00", &m) == 0 && m == -180);
    CHECK(report_parse_tz("", &m) == 0 && m == 0 && report_parse_tz("Z", &m) == 0);
    CHECK(report_parse_tz("WIB", &m) == -1 && report_parse_tz("+7", &m) == -1 && report_parse_tz("+15:00", &m) == -1);
    char e[128];
    report_query bad = {NULL, T0, T0, REPORT_BY_HOUR, 0};
    CHECK(report_start(path, &bad, r, e, sizeof e) == NULL && strstr(e, "before"));
    bad = (report_query){"tacos", T0, T0 + 1, REPORT_BY_HOUR, 0};
    CHECK(report_start(path, &bad, r, e, sizeof e) == NULL && strstr(e, "tacos"));

    registry_free(r);
    journal_close(j);
    remove_db(path);
    return check_report();
}
