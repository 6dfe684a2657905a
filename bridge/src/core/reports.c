/* reports.c - see reports.h.
 *
 * Three phases, each stepped across slices: the orders of the period
 * (order_times by its created_at index), then their station parts
 * (station_times joined by primary key, order_times forced outer with CROSS
 * JOIN: SQLite otherwise walked every station row of the tenant per order),
 * then the figures. Every figure goes into a group found by direct index:
 * tenant x hour of day, tenant x day, or tenant x station; each group keeps
 * its ticket seconds in an array, and the last phase takes each array's
 * percentiles by selection (O(n), no sort), a bounded number of values per
 * slice, so no turn of the loop holds a month's figures at once. */
#include "reports.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errbuf.h"
#include "order_validate.h"
#include "text_buf.h"

typedef struct {
    size_t count;
    double avg, p50, p90, max;
} stats;

typedef struct {
    double *v;
    size_t n, cap;
    stats st; /* computed by the finishing phase */
} values;

typedef struct {
    long orders, cancelled, recalls, late;
    values ticket; /* or a station's ready times */
} group;

typedef struct {
    char id[REGISTRY_ID_MAX + 1];
    char stations[REGISTRY_STATIONS_MAX][REGISTRY_ID_MAX + 1];
    int n_stations;
    double late_after_s;
    group total;
    values accept, serve;
    values station_ready[REGISTRY_STATIONS_MAX];
} tenant_acc;

typedef struct {
    char tenant[REGISTRY_ID_MAX + 1];
    char number[ORDER_NUMBER_MAX + 1];
    long long created_ms, ready_ms;
    double ticket_s;
} slow_ticket;

typedef enum { PHASE_ORDERS, PHASE_STATIONS, PHASE_FINISH, PHASE_DONE } report_phase;

struct report {
    report_query q;
    char tenant_filter[REGISTRY_ID_MAX + 1];
    tenant_acc *tenants;
    int n_tenants, last_tenant;
    group *groups; /* n_tenants x n_keys */
    int n_keys;
    slow_ticket slowest[REPORT_SLOWEST];
    int n_slowest;
    long long oldest_ms; /* the oldest order the journal has, 0 if none */
    sqlite3 *db;
    sqlite3_stmt *st;
    report_phase phase;
    size_t finish_at; /* the finishing phase's next array (see finish_step) */
};

static int push(values *v, double x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        double *grown = realloc(v->v, cap * sizeof *grown);
        if (!grown) return -1;
        v->v = grown;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return 0;
}

int report_parse_tz(const char *s, int *minutes)
{
    if (!s || !s[0] || strcmp(s, "Z") == 0) {
        *minutes = 0;
        return 0;
    }
    int h, m;
    char sign, tail;
    if (sscanf(s, "%c%2d:%2d%c", &sign, &h, &m, &tail) != 3 || (sign != '+' && sign != '-' && sign != ' ') ||
        strlen(s) != 6 || h > 14 || m > 59)
        return -1;
    *minutes = (sign == '-' ? -1 : 1) * (h * 60 + m); /* '+' may arrive as ' ' from a query string */
    return 0;
}

static int tenant_index(report *rp, const char *id)
{
    if (rp->last_tenant >= 0 && strcmp(rp->tenants[rp->last_tenant].id, id) == 0) return rp->last_tenant;
    for (int i = 0; i < rp->n_tenants; i++)
        if (strcmp(rp->tenants[i].id, id) == 0) return rp->last_tenant = i;
    return -1; /* a tenant the registry no longer has */
}

/* The group key of an order created at created_ms, or -1 (out of range). */
static int key_of(const report *rp, long long created_ms)
{
    long long local = created_ms + (long long)rp->q.tz_minutes * 60000;
    if (rp->q.by == REPORT_BY_HOUR) return (int)(((local / 3600000) % 24 + 24) % 24);
    long long from_local = rp->q.from_ms + (long long)rp->q.tz_minutes * 60000;
    long long day = local / 86400000 - from_local / 86400000;
    return day >= 0 && day < rp->n_keys ? (int)day : -1;
}

static int prepare(report *rp, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2(rp->db, sql, -1, &rp->st, NULL) != SQLITE_OK)
        return errbuf_set(err, errlen, "cannot read the journal: %s", sqlite3_errmsg(rp->db));
    sqlite3_bind_int64(rp->st, 1, rp->q.from_ms);
    sqlite3_bind_int64(rp->st, 2, rp->q.to_ms);
    if (rp->q.tenant) sqlite3_bind_text(rp->st, 3, rp->tenant_filter, -1, SQLITE_STATIC);
    return 0;
}

report *report_start(const char *db_path, const report_query *q, const registry *r, char *err, size_t errlen)
{
    if (q->to_ms <= q->from_ms) {
        errbuf_set(err, errlen, "\"from\" must be before \"to\"");
        return NULL;
    }
    if (q->to_ms - q->from_ms > (long long)REPORT_MAX_DAYS * 86400000) {
        errbuf_set(err, errlen, "a report covers at most %d days", REPORT_MAX_DAYS);
        return NULL;
    }
    if (q->tenant && !registry_find_tenant(r, q->tenant)) {
        errbuf_set(err, errlen, "there is no tenant %s", q->tenant);
        return NULL;
    }
    report *rp = calloc(1, sizeof *rp);
    if (!rp) {
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    rp->q = *q;
    rp->last_tenant = -1;
    if (q->tenant) snprintf(rp->tenant_filter, sizeof rp->tenant_filter, "%s", q->tenant);
    rp->q.tenant = q->tenant ? rp->tenant_filter : NULL;
    rp->tenants = calloc(r->n_tenants ? r->n_tenants : 1, sizeof *rp->tenants);
    for (size_t i = 0; rp->tenants && i < r->n_tenants; i++) {
        tenant_acc *t = &rp->tenants[rp->n_tenants++];
        memcpy(t->id, r->tenants[i].id, sizeof t->id);
        memcpy(t->stations, r->tenants[i].stations, sizeof t->stations);
        t->n_stations = r->tenants[i].n_stations;
        t->late_after_s = (double)r->tenants[i].late_after_ms / 1000.0;
    }
    long long from_local = q->from_ms + (long long)q->tz_minutes * 60000;
    long long to_local = q->to_ms - 1 + (long long)q->tz_minutes * 60000;
    rp->n_keys = q->by == REPORT_BY_HOUR ? 24
                 : q->by == REPORT_BY_DAY ? (int)(to_local / 86400000 - from_local / 86400000 + 1)
                                          : REGISTRY_STATIONS_MAX;
    rp->groups = calloc((size_t)(rp->n_tenants ? rp->n_tenants : 1) * (size_t)rp->n_keys, sizeof *rp->groups);
    if (!rp->tenants || !rp->groups) {
        errbuf_set(err, errlen, "out of memory");
        report_free(rp);
        return NULL;
    }
    sqlite3_stmt *oldest = NULL;
    if (sqlite3_open_v2(db_path, &rp->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(rp->db, 2000) != SQLITE_OK ||
        sqlite3_prepare_v2(rp->db, "SELECT min(created_at) FROM order_times", -1, &oldest, NULL) != SQLITE_OK) {
        errbuf_set(err, errlen, "cannot read the journal: %s", rp->db ? sqlite3_errmsg(rp->db) : "out of memory");
        sqlite3_finalize(oldest);
        report_free(rp);
        return NULL;
    }
    if (sqlite3_step(oldest) == SQLITE_ROW) rp->oldest_ms = sqlite3_column_int64(oldest, 0);
    sqlite3_finalize(oldest);
    const char *sql = q->tenant
        ? "SELECT tenant, order_number, created_at, accepted_at, ready_at, served_at, cancelled_at, recalls "
          "FROM order_times INDEXED BY order_times_created WHERE created_at >= ?1 AND created_at < ?2 AND tenant = ?3"
        : "SELECT tenant, order_number, created_at, accepted_at, ready_at, served_at, cancelled_at, recalls "
          "FROM order_times INDEXED BY order_times_created WHERE created_at >= ?1 AND created_at < ?2";
    if (prepare(rp, sql, err, errlen) != 0) {
        report_free(rp);
        return NULL;
    }
    return rp;
}

static void note_slow(report *rp, const char *tenant, const char *number, long long created, long long ready,
                      double ticket_s)
{
    if (rp->n_slowest == REPORT_SLOWEST && ticket_s <= rp->slowest[REPORT_SLOWEST - 1].ticket_s) return;
    int at = rp->n_slowest < REPORT_SLOWEST ? rp->n_slowest++ : REPORT_SLOWEST - 1;
    while (at > 0 && rp->slowest[at - 1].ticket_s < ticket_s) {
        rp->slowest[at] = rp->slowest[at - 1];
        at--;
    }
    slow_ticket *s = &rp->slowest[at];
    snprintf(s->tenant, sizeof s->tenant, "%s", tenant);
    snprintf(s->number, sizeof s->number, "%s", number);
    s->created_ms = created;
    s->ready_ms = ready;
    s->ticket_s = ticket_s;
}

/* One order_times row into its tenant's totals and its group. */
static int add_order(report *rp, sqlite3_stmt *st)
{
    int t = tenant_index(rp, (const char *)sqlite3_column_text(st, 0));
    if (t < 0) return 0;
    tenant_acc *ta = &rp->tenants[t];
    long long created = sqlite3_column_int64(st, 2);
    int k = rp->q.by == REPORT_BY_STATION ? -1 : key_of(rp, created);
    group *g = k >= 0 ? &rp->groups[(size_t)t * (size_t)rp->n_keys + (size_t)k] : NULL;
    int cancelled = sqlite3_column_type(st, 6) != SQLITE_NULL;
    long recalls = (long)sqlite3_column_int64(st, 7);
    ta->total.orders++;
    ta->total.cancelled += cancelled;
    ta->total.recalls += recalls;
    if (g) {
        g->orders++;
        g->cancelled += cancelled;
        g->recalls += recalls;
    }
    if (sqlite3_column_type(st, 3) != SQLITE_NULL &&
        push(&ta->accept, (double)(sqlite3_column_int64(st, 3) - created) / 1000.0))
        return -1;
    if (sqlite3_column_type(st, 5) != SQLITE_NULL &&
        push(&ta->serve, (double)(sqlite3_column_int64(st, 5) - created) / 1000.0))
        return -1;
    if (sqlite3_column_type(st, 4) == SQLITE_NULL) return 0;
    long long ready = sqlite3_column_int64(st, 4);
    double ticket = (double)(ready - created) / 1000.0;
    int late = ticket > ta->late_after_s;
    ta->total.late += late;
    if (push(&ta->total.ticket, ticket)) return -1;
    if (g) {
        g->late += late;
        if (push(&g->ticket, ticket)) return -1;
    }
    note_slow(rp, ta->id, (const char *)sqlite3_column_text(st, 1), created, ready, ticket);
    return 0;
}

/* One station part's ready time (row: tenant, station, seconds). */
static int add_station(report *rp, sqlite3_stmt *st)
{
    int t = tenant_index(rp, (const char *)sqlite3_column_text(st, 0));
    if (t < 0) return 0;
    tenant_acc *ta = &rp->tenants[t];
    const char *station = (const char *)sqlite3_column_text(st, 1);
    for (int k = 0; k < ta->n_stations; k++) {
        if (strcmp(ta->stations[k], station) != 0) continue;
        double s = (double)sqlite3_column_int64(st, 2) / 1000.0;
        if (push(&ta->station_ready[k], s)) return -1;
        if (rp->q.by == REPORT_BY_STATION) {
            group *g = &rp->groups[(size_t)t * (size_t)rp->n_keys + (size_t)k];
            g->orders++;
            if (push(&g->ticket, s)) return -1;
        }
        return 0;
    }
    return 0; /* a station the registry no longer lists */
}

static int finish_step(report *rp, size_t budget, double until_ms);

/* Time is read every this many rows: a row takes a microsecond or so. */
#define ROWS_PER_CLOCK_READ 32

int report_step(report *rp, int max_rows, double max_ms, char *err, size_t errlen)
{
    double until = max_ms > 0 ? kb_now_ms() + max_ms : 0;
    if (rp->phase == PHASE_FINISH) {
        /* About as much work per slice as reading max_rows rows. */
        if (finish_step(rp, (size_t)max_rows * 16, until)) rp->phase = PHASE_DONE;
        return rp->phase == PHASE_DONE;
    }
    while (rp->phase != PHASE_DONE) {
        int rc = SQLITE_ROW;
        for (int n = 0; n < max_rows && (rc = sqlite3_step(rp->st)) == SQLITE_ROW; n++) {
            if ((rp->phase == PHASE_ORDERS ? add_order(rp, rp->st) : add_station(rp, rp->st)) != 0)
                return errbuf_set(err, errlen, "out of memory");
            if (until > 0 && n % ROWS_PER_CLOCK_READ == ROWS_PER_CLOCK_READ - 1 && kb_now_ms() >= until) return 0;
        }
        if (rc == SQLITE_ROW) return 0; /* the slice is used up */
        if (rc != SQLITE_DONE) return errbuf_set(err, errlen, "cannot read the journal: %s", sqlite3_errmsg(rp->db));
        sqlite3_finalize(rp->st);
        rp->st = NULL;
        if (rp->phase == PHASE_STATIONS) {
            rp->phase = PHASE_FINISH;
            return 0; /* the figures in the next slices */
        }
        rp->phase = PHASE_STATIONS;
        const char *sql = rp->q.tenant
            ? "SELECT s.tenant, s.station, s.ready_at - o.created_at FROM order_times o INDEXED BY order_times_created "
              "CROSS JOIN station_times s ON s.tenant = o.tenant AND s.created_seq = o.created_seq "
              "WHERE o.created_at >= ?1 AND o.created_at < ?2 AND o.tenant = ?3"
            : "SELECT s.tenant, s.station, s.ready_at - o.created_at FROM order_times o INDEXED BY order_times_created "
              "CROSS JOIN station_times s ON s.tenant = o.tenant AND s.created_seq = o.created_seq "
              "WHERE o.created_at >= ?1 AND o.created_at < ?2";
        if (prepare(rp, sql, err, errlen) != 0) return -1;
        return 0; /* the stations in the next slice */
    }
    return 1;
}

/* ---- output ---- */

/* The k-th smallest of v[0..n) (0-based), moving values around: Hoare's
 * selection, O(n) on average, no full sort (a month's tickets would take
 * one long turn of the loop to sort). */
static double select_kth(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return v[k];
    }
    return v[k];
}

/* count, avg, nearest-rank p50 and p90, max of v (reordering it). */
static void compute_stats(values *v)
{
    stats s = {v->n, 0, 0, 0, 0};
    if (v->n) {
        double sum = 0, max = v->v[0];
        for (size_t i = 0; i < v->n; i++) {
            sum += v->v[i];
            if (v->v[i] > max) max = v->v[i];
        }
        s.avg = sum / (double)v->n;
        s.max = max;
        size_t k90 = (size_t)ceil(0.9 * (double)v->n) - 1, k50 = (size_t)ceil(0.5 * (double)v->n) - 1;
        s.p90 = select_kth(v->v, v->n, k90);
        s.p50 = select_kth(v->v, k90 + 1, k50); /* everything below rank k90 is now at its left */
    }
    v->st = s;
}

/* The i-th values array of the report, in a fixed order; NULL past the end. */
static values *array_at(report *rp, size_t i)
{
    size_t per_tenant = 3 + REGISTRY_STATIONS_MAX, tenants = (size_t)rp->n_tenants * per_tenant;
    if (i < tenants) {
        tenant_acc *t = &rp->tenants[i / per_tenant];
        size_t k = i % per_tenant;
        return k == 0 ? &t->total.ticket : k == 1 ? &t->accept : k == 2 ? &t->serve : &t->station_ready[k - 3];
    }
    i -= tenants;
    return i < (size_t)rp->n_tenants * (size_t)rp->n_keys ? &rp->groups[i].ticket : NULL;
}

/* Computes the figures of arrays holding about `budget` values in all, or
 * until kb_now_ms() reaches until_ms (if not 0), whichever comes first (an
 * array is never split), then returns: 1 when every array is done. */
static int finish_step(report *rp, size_t budget, double until_ms)
{
    values *v;
    size_t used = 0;
    while (used < budget && (until_ms <= 0 || used == 0 || kb_now_ms() < until_ms) && (v = array_at(rp, rp->finish_at))) {
        compute_stats(v);
        used += v->n + 1;
        rp->finish_at++;
    }
    return array_at(rp, rp->finish_at) == NULL;
}

static double round3(double x) { return round(x * 1000.0) / 1000.0; }

static cJSON *stats_json(const values *v)
{
    const stats s = v->st;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)s.count);
    if (!s.count) {
        cJSON_AddNullToObject(o, "avg_s");
        cJSON_AddNullToObject(o, "p50_s");
        cJSON_AddNullToObject(o, "p90_s");
        cJSON_AddNullToObject(o, "max_s");
        return o;
    }
    cJSON_AddNumberToObject(o, "avg_s", round3(s.avg));
    cJSON_AddNumberToObject(o, "p50_s", round3(s.p50));
    cJSON_AddNumberToObject(o, "p90_s", round3(s.p90));
    cJSON_AddNumberToObject(o, "max_s", round3(s.max));
    return o;
}

static void add_iso(cJSON *o, const char *key, long long ms)
{
    char iso[40];
    kb_iso_from_ms(ms, iso, sizeof iso);
    cJSON_AddStringToObject(o, key, iso);
}

/* Group k's key as text: "07", "2026-11-02", or the station. */
static void key_text(const report *rp, const tenant_acc *t, int k, char *buf, size_t len)
{
    if (rp->q.by == REPORT_BY_HOUR) {
        snprintf(buf, len, "%02d", k);
    } else if (rp->q.by == REPORT_BY_DAY) {
        long long from_local = rp->q.from_ms + (long long)rp->q.tz_minutes * 60000;
        char iso[40];
        kb_iso_from_ms((from_local / 86400000 + k) * 86400000, iso, sizeof iso);
        snprintf(buf, len, "%.10s", iso);
    } else {
        snprintf(buf, len, "%s", k < t->n_stations ? t->stations[k] : "");
    }
}

static int shown(const report *rp, int t) { return !rp->q.tenant || strcmp(rp->tenants[t].id, rp->q.tenant) == 0; }

static int group_used(const report *rp, int t, int k)
{
    const group *g = &rp->groups[(size_t)t * (size_t)rp->n_keys + (size_t)k];
    return rp->q.by == REPORT_BY_STATION ? k < rp->tenants[t].n_stations : g->orders > 0;
}

static const char *by_name(report_by by) { return by == REPORT_BY_HOUR ? "hour" : by == REPORT_BY_DAY ? "day" : "station"; }

char *report_json(const report *rp, int retention_days)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "tenant", rp->q.tenant ? rp->q.tenant : "*");
    add_iso(doc, "from", rp->q.from_ms);
    add_iso(doc, "to", rp->q.to_ms);
    cJSON_AddStringToObject(doc, "by", by_name(rp->q.by));
    char tz[24];
    int m = (rp->q.tz_minutes < 0 ? -rp->q.tz_minutes : rp->q.tz_minutes) % (24 * 60);
    snprintf(tz, sizeof tz, "%c%02d:%02d", rp->q.tz_minutes < 0 ? '-' : '+', m / 60, m % 60);
    cJSON_AddStringToObject(doc, "tz", tz);
    cJSON_AddNumberToObject(doc, "retention_days", retention_days);
    if (rp->oldest_ms > 0) add_iso(doc, "oldest_available", rp->oldest_ms);
    else cJSON_AddNullToObject(doc, "oldest_available");
    cJSON *totals = cJSON_AddArrayToObject(doc, "totals"), *rows = cJSON_AddArrayToObject(doc, "rows");
    cJSON *stations = cJSON_AddArrayToObject(doc, "stations"), *slowest = cJSON_AddArrayToObject(doc, "slowest");
    for (int t = 0; t < rp->n_tenants; t++) {
        if (!shown(rp, t)) continue;
        tenant_acc *ta = &rp->tenants[t];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "tenant", ta->id);
        cJSON_AddNumberToObject(o, "late_after_s", ta->late_after_s);
        cJSON_AddNumberToObject(o, "orders", (double)ta->total.orders);
        cJSON_AddNumberToObject(o, "cancelled", (double)ta->total.cancelled);
        cJSON_AddNumberToObject(o, "recalls", (double)ta->total.recalls);
        cJSON_AddNumberToObject(o, "late", (double)ta->total.late);
        cJSON_AddItemToObject(o, "ticket", stats_json(&ta->total.ticket));
        cJSON_AddItemToObject(o, "accept", stats_json(&ta->accept));
        cJSON_AddItemToObject(o, "serve", stats_json(&ta->serve));
        cJSON_AddItemToArray(totals, o);
        for (int k = 0; k < rp->n_keys; k++) {
            if (!group_used(rp, t, k)) continue;
            group *g = &rp->groups[(size_t)t * (size_t)rp->n_keys + (size_t)k];
            char key[40];
            key_text(rp, ta, k, key, sizeof key);
            cJSON *row = cJSON_CreateObject();
            cJSON_AddStringToObject(row, "tenant", ta->id);
            cJSON_AddStringToObject(row, "key", key);
            cJSON_AddNumberToObject(row, "orders", (double)g->orders);
            if (rp->q.by != REPORT_BY_STATION) {
                cJSON_AddNumberToObject(row, "cancelled", (double)g->cancelled);
                cJSON_AddNumberToObject(row, "recalls", (double)g->recalls);
                cJSON_AddNumberToObject(row, "late", (double)g->late);
            }
            cJSON_AddItemToObject(row, "ticket", stats_json(&g->ticket));
            cJSON_AddItemToArray(rows, row);
        }
        for (int k = 0; k < ta->n_stations; k++) {
            cJSON *st = cJSON_CreateObject();
            cJSON_AddStringToObject(st, "tenant", ta->id);
            cJSON_AddStringToObject(st, "station", ta->stations[k]);
            cJSON_AddItemToObject(st, "ready", stats_json(&ta->station_ready[k]));
            cJSON_AddItemToArray(stations, st);
        }
    }
    for (int i = 0; i < rp->n_slowest; i++) {
        const slow_ticket *s = &rp->slowest[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "tenant", s->tenant);
        cJSON_AddStringToObject(o, "order_number", s->number);
        add_iso(o, "created_at", s->created_ms);
        add_iso(o, "ready_at", s->ready_ms);
        cJSON_AddNumberToObject(o, "ticket_s", round3(s->ticket_s));
        cJSON_AddItemToArray(slowest, o);
    }
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
}

static void cell(char *buf, size_t len, double x, int have)
{
    if (have) snprintf(buf, len, "%g", round3(x));
    else buf[0] = '\0';
}

char *report_csv(const report *rp)
{
    text_buf out = {0};
    text_buf_printf(&out, "tenant,key,orders,cancelled,recalls,late,ticket_count,ticket_avg_s,ticket_p50_s,"
                          "ticket_p90_s,ticket_max_s\n");
    for (int t = 0; t < rp->n_tenants; t++) {
        if (!shown(rp, t)) continue;
        for (int k = 0; k < rp->n_keys; k++) {
            if (!group_used(rp, t, k)) continue;
            const group *g = &rp->groups[(size_t)t * (size_t)rp->n_keys + (size_t)k];
            const stats s = g->ticket.st;
            char key[40], avg[32], p50[32], p90[32], max[32];
            key_text(rp, &rp->tenants[t], k, key, sizeof key);
            cell(avg, sizeof avg, s.avg, s.count > 0);
            cell(p50, sizeof p50, s.p50, s.count > 0);
            cell(p90, sizeof p90, s.p90, s.count > 0);
            cell(max, sizeof max, s.max, s.count > 0);
            char counts[96] = ",,"; /* a station's row: its parts ready, no cancels, recalls or lates of its own */
            if (rp->q.by != REPORT_BY_STATION)
                snprintf(counts, sizeof counts, "%ld,%ld,%ld", g->cancelled, g->recalls, g->late);
            text_buf_printf(&out, "%s,%s,%ld,%s,%zu,%s,%s,%s,%s\n", rp->tenants[t].id, key, g->orders, counts,
                            s.count, avg, p50, p90, max);
        }
    }
    return text_buf_take(&out);
}

static void free_values(values *v) { free(v->v); }

void report_free(report *rp)
{
    if (!rp) return;
    if (rp->st) sqlite3_finalize(rp->st);
    if (rp->db) sqlite3_close(rp->db);
    for (int t = 0; rp->tenants && t < rp->n_tenants; t++) {
        free_values(&rp->tenants[t].total.ticket);
        free_values(&rp->tenants[t].accept);
        free_values(&rp->tenants[t].serve);
        for (int k = 0; k < REGISTRY_STATIONS_MAX; k++) free_values(&rp->tenants[t].station_ready[k]);
    }
    for (size_t i = 0; rp->groups && i < (size_t)rp->n_tenants * (size_t)rp->n_keys; i++) free_values(&rp->groups[i].ticket);
    free(rp->groups);
    free(rp->tenants);
    free(rp);
}
