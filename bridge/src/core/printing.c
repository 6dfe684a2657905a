/* printing.c - see printing.h.
 *
 * Per printer (by registry key) the loop keeps: the job in flight (0: none),
 * whether that job's result still has to be marked done, the retry time and
 * delay, the last error and the last success, and the coverage it saw last
 * tick (to find the screens that went off). A registry reload needs nothing
 * here: printers are looked up by key at each tick; a state whose printer
 * is gone is kept (its jobs wait, /health no longer lists it). */
#include "printing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "errbuf.h"
#include "escpos.h"
#include "log.h"
#include "order_stations.h"
#include "order_status.h"
#include "print_queue.h"
#include "text_buf.h"

typedef struct {
    char key[REGISTRY_PRINTER_KEY_MAX + 1];
    int64_t in_flight;   /* job handed to the transport, 0 if none */
    int64_t unsaved;     /* job the printer took, not yet marked done */
    double next_try_ms;  /* monotonic */
    double delay_ms;     /* the next retry's wait; 0 after a success */
    int failing;         /* the last attempt failed */
    char last_error[200];
    long long last_ok_wall_ms;
    int64_t last_job;
    int64_t printed;
    int coverage_known;  /* `uncovered` below has been seen */
    uint32_t uncovered;  /* the stations this printer covers that had no screen */
    /* CUPS printers: what CUPS holds of the tickets it took (printing.h) */
    int probing;           /* a probe is with the transport */
    int cups_watch;        /* probe at next_probe_ms: CUPS may hold tickets */
    double next_probe_ms;  /* monotonic */
    int cups_waiting;      /* tickets CUPS held at the last probe */
    char cups_oldest[96];  /* the oldest of them, "" if none */
    double cups_since_ms;  /* monotonic: when cups_oldest was first seen */
    int cups_stuck;        /* cups_oldest has waited cups_stuck_ms or more */
    char cups_message[200];
} printer_state;

typedef struct {
    char tenant[REGISTRY_ID_MAX + 1];
    char order_number[80];
    int64_t created_seq;
} undecided_order;

struct printing {
    journal *journal;
    print_queue *queue;
    registry *const *registry;
    const presence *presence;
    printing_transport transport;
    printer_state *states;
    size_t n_states, cap_states;
    int presence_known;
    /* New orders of tenants with a backup printer that came while presence
     * was not known (the first seconds after a start, a broker outage). */
    undecided_order *undecided;
    size_t n_undecided, cap_undecided;
};

static printer_state *state_of(printing *p, const char *key)
{
    for (size_t i = 0; i < p->n_states; i++)
        if (strcmp(p->states[i].key, key) == 0) return &p->states[i];
    if (p->n_states == p->cap_states) {
        size_t cap = p->cap_states ? 2 * p->cap_states : 8;
        printer_state *grown = realloc(p->states, cap * sizeof *grown);
        if (!grown) return NULL;
        p->states = grown;
        p->cap_states = cap;
    }
    printer_state *s = &p->states[p->n_states++];
    memset(s, 0, sizeof *s);
    snprintf(s->key, sizeof s->key, "%s", key);
    s->cups_watch = 1; /* CUPS may hold tickets from before a restart */
    return s;
}

printing *printing_new(journal *j, registry *const *reg, const presence *table, const printing_transport *t,
                       char *err, size_t errlen)
{
    printing *p = calloc(1, sizeof *p);
    if (!p) {
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    *p = (printing){.journal = j, .registry = reg, .presence = table, .transport = *t};
    p->queue = print_queue_open(j, err, errlen);
    if (!p->queue) {
        free(p);
        return NULL;
    }
    return p;
}

void printing_free(printing *p)
{
    if (!p) return;
    print_queue_free(p->queue);
    free(p->states);
    free(p->undecided);
    free(p);
}

/* ---- coverage ---- */

static uint32_t all_stations(const registry_tenant *t)
{
    int n = t->n_stations ? t->n_stations : 1;
    return n >= 32 ? UINT32_MAX : (1u << n) - 1;
}

/* The stations of tenant index ti with no kitchen screen online (a tenant
 * without stations is station 0). */
static uint32_t uncovered_stations(const printing *p, const registry *r, int ti)
{
    uint32_t all = all_stations(&r->tenants[ti]), covered = 0;
    for (size_t i = 0; i < r->n_devices; i++) {
        const registry_device *d = &r->devices[i];
        if (d->role != DEVICE_KITCHEN || d->tenant != ti || !presence_online(p->presence, d->username)) continue;
        covered |= d->station < 0 ? all : 1u << d->station;
    }
    return all & ~covered;
}

/* The stations printer (tenant t, station; -1: the tenant's) prints for. */
static uint32_t printer_stations(const registry_tenant *t, int station)
{
    if (station >= 0) return 1u << station;
    if (!t->n_stations) return 1;
    uint32_t m = 0;
    for (int i = 0; i < t->n_stations; i++)
        if (!t->station_printers[i].set) m |= 1u << i;
    return m;
}

/* The stations order has items at. */
static uint32_t order_stations(const registry_tenant *t, const cJSON *order)
{
    if (!t->n_stations) return 1;
    uint32_t m = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(order, "stations")) {
        int i = part->string ? registry_station_index(t, part->string) : -1;
        if (i >= 0) m |= 1u << i;
    }
    return m;
}

static const registry_printer *printer_at(const registry_tenant *t, int station)
{
    return station >= 0 ? &t->station_printers[station] : &t->printer;
}

/* ---- making jobs ---- */

/* The document printer (t, station) prints of order: a station's view, or
 * the whole order (a copy). malloc'd; NULL if the station has no part. */
static char *doc_for(const registry_tenant *t, int station, const cJSON *order)
{
    if (station < 0) return cJSON_PrintUnformatted(order);
    return order_station_view(order, t->stations[station], t->stations[0]);
}

/* Writes one job into the open batch. 0, or -1. */
static int add_job(printing *p, const registry_tenant *t, int station, const cJSON *order, int64_t created_seq,
                   print_job_kind kind)
{
    char key[REGISTRY_PRINTER_KEY_MAX + 1];
    if (registry_printer_key(key, sizeof key, t, station)) return -1;
    char *doc = doc_for(t, station, order);
    if (!doc) return 0; /* nothing of it there */
    int rc = print_queue_add(p->queue, key, t->id, created_seq, kind, doc);
    free(doc);
    if (rc) log_error("printer %s: cannot queue a ticket: %s", key, journal_last_error(p->journal));
    return rc;
}

static int has_ticket(printing *p, const registry_tenant *t, int station, int64_t created_seq)
{
    char key[REGISTRY_PRINTER_KEY_MAX + 1];
    if (registry_printer_key(key, sizeof key, t, station)) return -1;
    return print_queue_has_ticket(p->queue, key, t->id, created_seq);
}

static int64_t created_seq_of(const cJSON *order)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(order, "created_seq");
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static order_status status_of(const cJSON *order)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(order, "status");
    return cJSON_IsString(v) ? order_status_parse(v->valuestring) : ORDER_STATUS_INVALID;
}

/* The jobs a change makes (printing.h). backup_only: a backup printer's
 * decision that presence could not make when the order came. */
static void decide(printing *p, const registry *r, const registry_tenant *t, const cJSON *order, int created,
                   int backup_only)
{
    int64_t cseq = created_seq_of(order);
    uint32_t at = order_stations(t, order);
    uint32_t uncovered = p->presence_known ? uncovered_stations(p, r, (int)(t - r->tenants)) : 0;
    for (int station = -1; station < t->n_stations; station++) {
        const registry_printer *pr = printer_at(t, station);
        if (!pr->set || pr->mode == PRINT_OFF || (backup_only && pr->mode != PRINT_BACKUP)) continue;
        uint32_t mine = printer_stations(t, station) & at;
        if (!mine && !(station < 0 && pr->mode == PRINT_ALWAYS)) continue;
        int unseen = pr->mode == PRINT_BACKUP && (mine & uncovered);
        if (created) {
            if (pr->mode == PRINT_ALWAYS || unseen) add_job(p, t, station, order, cseq, PRINT_JOB_NEW);
        } else if (unseen || has_ticket(p, t, station, cseq) == 1) {
            add_job(p, t, station, order, cseq, PRINT_JOB_CANCELLED);
        }
    }
}

static int has_backup_printer(const registry_tenant *t)
{
    if (t->printer.set && t->printer.mode == PRINT_BACKUP) return 1;
    for (int i = 0; i < t->n_stations; i++)
        if (t->station_printers[i].set && t->station_printers[i].mode == PRINT_BACKUP) return 1;
    return 0;
}

/* A new order while presence is not known: decided once it is. */
static void remember_undecided(printing *p, const registry_tenant *t, const cJSON *order)
{
    const cJSON *number = cJSON_GetObjectItemCaseSensitive(order, "order_number");
    if (!cJSON_IsString(number) || strlen(number->valuestring) >= sizeof p->undecided->order_number) return;
    if (p->n_undecided == p->cap_undecided) {
        size_t cap = p->cap_undecided ? 2 * p->cap_undecided : 16;
        undecided_order *grown = realloc(p->undecided, cap * sizeof *grown);
        if (!grown) {
            log_error("out of memory: order %s/%s may not print if no screen shows it", t->id, number->valuestring);
            return;
        }
        p->undecided = grown;
        p->cap_undecided = cap;
    }
    undecided_order *u = &p->undecided[p->n_undecided++];
    snprintf(u->tenant, sizeof u->tenant, "%s", t->id);
    snprintf(u->order_number, sizeof u->order_number, "%s", number->valuestring);
    u->created_seq = created_seq_of(order);
}

void printing_changed(void *ctx, const char *tenant, const char *doc, int created)
{
    printing *p = ctx;
    const registry *r = *p->registry;
    const registry_tenant *t = registry_find_tenant(r, tenant);
    if (!t) return;
    int any = t->printer.set;
    for (int i = 0; i < t->n_stations; i++) any |= t->station_printers[i].set;
    if (!any) return;
    cJSON *order = cJSON_Parse(doc);
    order_status status = status_of(order);
    if (order && (created || status == ORDER_STATUS_CANCELLED)) {
        decide(p, r, t, order, created, 0);
        if (created && !p->presence_known && has_backup_printer(t)) remember_undecided(p, t, order);
    }
    cJSON_Delete(order);
}

/* Once presence is known: the backup printers' decisions for the orders
 * that came before. Runs with no batch open; commits what it made. */
static void decide_undecided(printing *p, const registry *r)
{
    if (!p->n_undecided || journal_begin(p->journal) != 0) return;
    for (size_t i = 0; i < p->n_undecided; i++) {
        const undecided_order *u = &p->undecided[i];
        const registry_tenant *t = registry_find_tenant(r, u->tenant);
        journal_order o;
        if (!t || journal_get_order(p->journal, u->tenant, u->order_number, &o) != 1) continue;
        cJSON *order = o.created_seq == u->created_seq && order_status_is_open(o.status) ? cJSON_Parse(o.doc) : NULL;
        free(o.doc);
        if (order) decide(p, r, t, order, 1, 1);
        cJSON_Delete(order);
    }
    if (journal_commit(p->journal) != 0) {
        log_error("printers: cannot queue tickets: %s", journal_last_error(p->journal));
        return; /* tried again next tick */
    }
    p->n_undecided = 0;
}

/* One printer's sweep of its tenant's open orders: those at `stations` not
 * yet ready there, with no ticket on it yet, get a `kind` job. */
typedef struct {
    printing *p;
    const registry_tenant *t;
    int station;
    uint32_t stations;
    print_job_kind kind;
    int made;
} sweep_ctx;

static int sweep_one(void *ctx, const char *tenant, const char *order_number, const char *doc, int64_t seq)
{
    (void)tenant;
    (void)order_number;
    (void)seq;
    sweep_ctx *c = ctx;
    cJSON *order = cJSON_Parse(doc);
    if (!order) return 0;
    int64_t cseq = created_seq_of(order);
    uint32_t due = order_stations(c->t, order) & c->stations;
    int unbumped = 0;
    for (int i = 0; i < 32 && due && !unbumped; i++) {
        if (!(due & (1u << i))) continue;
        order_status s = c->t->n_stations ? order_station_status(order, c->t->stations[i]) : status_of(order);
        unbumped = s == ORDER_STATUS_NEW || s == ORDER_STATUS_ACCEPTED || s == ORDER_STATUS_PREPARING;
    }
    if (unbumped && has_ticket(c->p, c->t, c->station, cseq) == 0 &&
        add_job(c->p, c->t, c->station, order, cseq, c->kind) == 0)
        c->made++;
    cJSON_Delete(order);
    return 0;
}

/* Compares each backup printer's coverage with what it was and sweeps
 * where screens went off. Runs with no batch open; commits what it made. */
static void watch_coverage(printing *p, const registry *r)
{
    for (size_t ti = 0; ti < r->n_tenants; ti++) {
        const registry_tenant *t = &r->tenants[ti];
        uint32_t uncovered = 0;
        int computed = 0;
        for (int station = -1; station < t->n_stations; station++) {
            const registry_printer *pr = printer_at(t, station);
            if (!pr->set || pr->mode != PRINT_BACKUP) continue;
            char key[REGISTRY_PRINTER_KEY_MAX + 1];
            printer_state *s = registry_printer_key(key, sizeof key, t, station) ? NULL : state_of(p, key);
            if (!s) continue;
            if (!computed) uncovered = uncovered_stations(p, r, (int)ti), computed = 1;
            uint32_t now_off = uncovered & printer_stations(t, station);
            /* The first look (presence settled after a start): a screen
             * that is not back by now counts as gone off. */
            uint32_t went_off = s->coverage_known ? now_off & ~s->uncovered : now_off;
            if (went_off && pr->from_screen) {
                sweep_ctx c = {p, t, station, went_off, PRINT_JOB_FROM_SCREEN, 0};
                if (journal_begin(p->journal) != 0) return;
                journal_for_each_open(p->journal, t->id, sweep_one, &c);
                if (journal_commit(p->journal) != 0) {
                    log_error("printer %s: cannot queue tickets: %s", key, journal_last_error(p->journal));
                    return; /* coverage not updated: tried again next tick */
                }
                if (c.made)
                    log_info("printer %s: %d open order%s printed: its screen went off", key, c.made,
                             c.made == 1 ? "" : "s");
            }
            s->uncovered = now_off;
            s->coverage_known = 1;
        }
    }
}

/* ---- hand-off ---- */

static void time_text(const cJSON *order, char *buf, size_t len)
{
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(order, "received_at");
    long long ms = cJSON_IsString(at) ? kb_iso_parse_ms(at->valuestring) : -1;
    if (ms < 0) ms = kb_wall_ms();
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&secs, &tm) || strftime(buf, len, "%H:%M", &tm) == 0) snprintf(buf, len, "?");
}

static escpos_kind ticket_kind(print_job_kind k)
{
    switch (k) {
    case PRINT_JOB_CANCELLED: return ESCPOS_CANCELLED;
    case PRINT_JOB_FROM_SCREEN: return ESCPOS_FROM_SCREEN;
    case PRINT_JOB_TEST: return ESCPOS_TEST;
    default: return ESCPOS_NEW;
    }
}

/* Renders job for printer pr of tenant t (station: -1 the tenant's). */
static int render(const registry_tenant *t, int station, const registry_printer *pr, const print_job *job,
                  const char *key, unsigned char **bytes, size_t *len)
{
    cJSON *order = job->kind == PRINT_JOB_TEST ? NULL : cJSON_Parse(job->doc);
    if (job->kind != PRINT_JOB_TEST && !order) return -1;
    char when[16];
    time_text(order, when, sizeof when);
    escpos_ticket opts = {
        .kind = ticket_kind(job->kind),
        .reprint = job->attempts > 0 || job->kind == PRINT_JOB_REPRINT,
        .width = pr->width,
        .codepage = escpos_codepage_find(pr->codepage),
        .heading = job->kind == PRINT_JOB_TEST ? key : t->name,
        .station = station >= 0 ? t->stations[station] : NULL,
        .time_text = when,
    };
    int rc = opts.codepage ? escpos_render(order, &opts, bytes, len) : -1;
    cJSON_Delete(order);
    return rc;
}

static void mark_done(printing *p, printer_state *s)
{
    if (!s->unsaved || print_queue_done(p->queue, s->unsaved) != 0) return; /* again at the next tick */
    s->last_job = s->unsaved;
    s->unsaved = 0;
}

static void dispatch(printing *p, const registry_tenant *t, int station, printer_state *s, double now_ms)
{
    const registry_printer *pr = printer_at(t, station);
    mark_done(p, s);
    if (s->unsaved || s->in_flight || s->probing || now_ms < s->next_try_ms) return;
    if (pr->cups[0] && p->transport.probe && s->cups_watch && now_ms >= s->next_probe_ms) {
        if (p->transport.probe(p->transport.ctx, s->key, pr) == 0) s->probing = 1;
        else s->next_probe_ms = now_ms + PRINTING_PROBE_MS;
        return;
    }
    print_job job;
    if (print_queue_next(p->queue, s->key, &job) != 1) return;
    unsigned char *bytes = NULL;
    size_t len = 0;
    if (render(t, station, pr, &job, s->key, &bytes, &len) != 0) {
        /* Not a document we can print: it would block the queue forever. */
        log_error("printer %s: job %lld cannot be rendered; dropped", s->key, (long long)job.id);
        if (print_queue_done(p->queue, job.id) != 0) s->next_try_ms = now_ms + PRINTING_RETRY_MIN_MS;
        free(job.doc);
        return;
    }
    if (print_queue_started(p->queue, job.id) == 0) {
        if (p->transport.send(p->transport.ctx, s->key, pr, job.id, bytes, len) == 0) s->in_flight = job.id;
        else print_queue_unstarted(p->queue, job.id); /* nothing went out: no REPRINT for it */
    }
    free(bytes);
    free(job.doc);
}

void printing_tick(printing *p, int presence_known, double now_ms)
{
    if (journal_has_uncommitted(p->journal)) return; /* the pipeline's batch is not committed yet */
    const registry *r = *p->registry;
    p->presence_known = presence_known;
    if (presence_known) {
        decide_undecided(p, r);
        watch_coverage(p, r);
    }
    for (size_t ti = 0; ti < r->n_tenants; ti++) {
        const registry_tenant *t = &r->tenants[ti];
        for (int station = -1; station < t->n_stations; station++) {
            const registry_printer *pr = printer_at(t, station);
            char key[REGISTRY_PRINTER_KEY_MAX + 1];
            printer_state *s = !pr->set || registry_printer_key(key, sizeof key, t, station) ? NULL : state_of(p, key);
            if (s && pr->mode != PRINT_OFF) dispatch(p, t, station, s, now_ms);
        }
    }
}

void printing_result(printing *p, const char *key, int64_t job, int ok, int wrote_any, const char *error)
{
    printer_state *s = state_of(p, key);
    if (!s || s->in_flight != job) return;
    s->in_flight = 0;
    if (ok) {
        if (s->failing) log_info("printer %s: printing again", key);
        s->failing = 0;
        s->delay_ms = 0;
        s->last_ok_wall_ms = kb_wall_ms();
        s->printed++;
        s->unsaved = job;
        mark_done(p, s);
        /* A CUPS printer's ticket is CUPS's now: look at it in a while (a
         * probe already due stays due). */
        double now = kb_now_ms();
        if (!s->cups_watch || s->next_probe_ms < now) s->next_probe_ms = now + PRINTING_PROBE_MS;
        s->cups_watch = 1;
        return;
    }
    /* The job stays first in the queue; its next attempt is a REPRINT only
     * if this one may have printed part of it. */
    if (!wrote_any) print_queue_unstarted(p->queue, job);
    if (!s->failing || strcmp(s->last_error, error ? error : "") != 0)
        log_warn("printer %s: %s; its tickets wait, retrying%s", key, error ? error : "failed",
                 wrote_any ? " (the next copy is marked REPRINT)" : "");
    s->failing = 1;
    snprintf(s->last_error, sizeof s->last_error, "%s", error ? error : "failed");
    s->delay_ms = s->delay_ms ? s->delay_ms * 2 : PRINTING_RETRY_MIN_MS;
    if (s->delay_ms > PRINTING_RETRY_MAX_MS) s->delay_ms = PRINTING_RETRY_MAX_MS;
    s->next_try_ms = kb_now_ms() + s->delay_ms;
}

/* Why a CUPS printer is degraded, for the log and /health's `error`. */
static void cups_held_text(const printer_state *s, double now_ms, char *out, size_t n)
{
    snprintf(out, n, "CUPS has held ticket %s for %.0f s (%d waiting): %s", s->cups_oldest,
             (now_ms - s->cups_since_ms) / 1000.0, s->cups_waiting, s->cups_message);
}

void printing_probed(printing *p, const char *key, int ok, int waiting, const char *oldest, const char *message)
{
    printer_state *s = state_of(p, key);
    if (!s || !s->probing) return;
    s->probing = 0;
    double now = kb_now_ms();
    s->next_probe_ms = now + PRINTING_PROBE_MS;
    if (!ok) { /* CUPS cannot say (not running, not installed): a ticket's own lp reports that */
        if (!s->cups_waiting) s->cups_watch = 0; /* else: it held tickets; ask again */
        return;
    }
    if (waiting <= 0) {
        if (s->cups_stuck) log_info("printer %s: CUPS has printed what it held", key);
        s->cups_watch = 0;
        s->cups_waiting = 0;
        s->cups_stuck = 0;
        s->cups_oldest[0] = '\0';
        s->cups_message[0] = '\0';
        return;
    }
    if (strcmp(s->cups_oldest, oldest ? oldest : "") != 0) {
        snprintf(s->cups_oldest, sizeof s->cups_oldest, "%s", oldest ? oldest : "");
        s->cups_since_ms = now;
    }
    s->cups_waiting = waiting;
    snprintf(s->cups_message, sizeof s->cups_message, "%s", message && *message ? message : "no reason given");
    int stuck = now - s->cups_since_ms >= p->transport.cups_stuck_ms;
    if (stuck && !s->cups_stuck) {
        char why[400];
        cups_held_text(s, now, why, sizeof why);
        log_warn("printer %s: %s", key, why);
    } else if (!stuck && s->cups_stuck) {
        log_info("printer %s: CUPS is printing again (%d waiting)", key, waiting);
    }
    s->cups_stuck = stuck;
}

/* ---- people's prints ---- */

/* A person's job goes into the open batch if there is one (the pipeline
 * commits it within a turn of the loop; a batch is never committed or
 * rolled back here by anyone but who opened it), else into one of its own,
 * committed at once. */
static int people_begin(printing *p, int *mine)
{
    *mine = !journal_has_uncommitted(p->journal);
    return journal_begin(p->journal);
}

static int people_end(printing *p, int mine, int rc)
{
    if (!mine) return rc;
    if (rc != 0) {
        journal_abort(p->journal);
        return -1;
    }
    return journal_commit(p->journal);
}

int printing_reprint(printing *p, const char *tenant, const char *order_number, const char *station, char *err,
                     size_t errlen)
{
    const registry *r = *p->registry;
    const registry_tenant *t = registry_find_tenant(r, tenant);
    if (!t) return errbuf_set(err, errlen, "there is no tenant %s", tenant);
    int only = station ? registry_station_index(t, station) : -2;
    if (station && only < 0) return errbuf_set(err, errlen, "tenant %s has no station %s", tenant, station);
    journal_order o;
    int found = journal_get_order(p->journal, tenant, order_number, &o);
    if (found < 0) return errbuf_set(err, errlen, "the journal cannot be read: %s", journal_last_error(p->journal));
    if (!found) return errbuf_set(err, errlen, "tenant %s has no order %s", tenant, order_number);
    cJSON *order = cJSON_Parse(o.doc);
    free(o.doc);
    if (!order) return errbuf_set(err, errlen, "order %s cannot be read", order_number);
    int made = 0, mine, rc = people_begin(p, &mine);
    uint32_t at = order_stations(t, order);
    for (int s = -1; rc == 0 && s < t->n_stations; s++) {
        const registry_printer *pr = printer_at(t, s);
        /* For one station: its own printer, or the tenant's that covers it. */
        int wanted = only == -2 || s == only || (s < 0 && (printer_stations(t, -1) & (1u << only)));
        if (!pr->set || !wanted || !(printer_stations(t, s) & at)) continue;
        if (add_job(p, t, s, order, o.created_seq, PRINT_JOB_REPRINT) != 0) rc = -1;
        else made++;
    }
    cJSON_Delete(order);
    if (people_end(p, mine, rc) != 0)
        return errbuf_set(err, errlen, "the reprint could not be queued: %s", journal_last_error(p->journal));
    if (!made)
        return errbuf_set(err, errlen, station ? "station %s has no printer" : "no printer prints order %s",
                          station ? station : order_number);
    return 0;
}

int printing_test(printing *p, const char *key, char *err, size_t errlen)
{
    const registry *r = *p->registry;
    for (size_t ti = 0; ti < r->n_tenants; ti++) {
        const registry_tenant *t = &r->tenants[ti];
        for (int s = -1; s < t->n_stations; s++) {
            char k[REGISTRY_PRINTER_KEY_MAX + 1];
            if (!printer_at(t, s)->set || registry_printer_key(k, sizeof k, t, s) || strcmp(k, key) != 0) continue;
            int mine, rc = people_begin(p, &mine);
            if (rc == 0) rc = print_queue_add(p->queue, key, t->id, 0, PRINT_JOB_TEST, "null");
            if (people_end(p, mine, rc) != 0)
                return errbuf_set(err, errlen, "the test print could not be queued: %s", journal_last_error(p->journal));
            return 0;
        }
    }
    return errbuf_set(err, errlen, "there is no printer %s", key);
}

/* ---- state ---- */

cJSON *printing_status_json(printing *p, int *degraded)
{
    const registry *r = *p->registry;
    cJSON *list = cJSON_CreateArray();
    *degraded = 0;
    for (size_t ti = 0; list && ti < r->n_tenants; ti++) {
        const registry_tenant *t = &r->tenants[ti];
        for (int station = -1; station < t->n_stations; station++) {
            const registry_printer *pr = printer_at(t, station);
            char key[REGISTRY_PRINTER_KEY_MAX + 1], iso[40];
            if (!pr->set || registry_printer_key(key, sizeof key, t, station)) continue;
            const printer_state *s = state_of(p, key);
            int64_t pending = print_queue_pending(p->queue, key);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "printer", key);
            cJSON_AddStringToObject(o, "tenant", t->id);
            if (station >= 0) cJSON_AddStringToObject(o, "station", t->stations[station]);
            else cJSON_AddNullToObject(o, "station");
            if (pr->cups[0]) cJSON_AddStringToObject(o, "cups", pr->cups);
            else cJSON_AddStringToObject(o, "address", pr->address);
            cJSON_AddStringToObject(o, "mode", print_mode_name(pr->mode));
            int failing = s && (s->failing || s->cups_stuck);
            cJSON_AddStringToObject(o, "state", pr->mode == PRINT_OFF ? "off" : failing ? "degraded" : "ok");
            cJSON_AddBoolToObject(o, "reachable", !failing);
            /* Whether each station it prints for has a screen on (null until
             * presence is known): in backup mode, false means it prints. */
            if (p->presence_known)
                cJSON_AddBoolToObject(o, "screens_on",
                                      !(uncovered_stations(p, r, (int)ti) & printer_stations(t, station)));
            else
                cJSON_AddNullToObject(o, "screens_on");
            cJSON_AddNumberToObject(o, "pending", (double)pending);
            cJSON_AddNumberToObject(o, "printed", s ? (double)s->printed : 0);
            if (s && s->last_ok_wall_ms) {
                kb_iso_from_ms(s->last_ok_wall_ms, iso, sizeof iso);
                cJSON_AddStringToObject(o, "last_printed_at", iso);
            } else {
                cJSON_AddNullToObject(o, "last_printed_at");
            }
            if (pr->cups[0]) cJSON_AddNumberToObject(o, "cups_waiting", s ? s->cups_waiting : 0);
            if (s && s->failing) {
                cJSON_AddStringToObject(o, "error", s->last_error);
            } else if (failing) {
                char why[400];
                cups_held_text(s, kb_now_ms(), why, sizeof why);
                cJSON_AddStringToObject(o, "error", why);
            } else {
                cJSON_AddNullToObject(o, "error");
            }
            cJSON_AddItemToArray(list, o);
            if (failing && pr->mode != PRINT_OFF) *degraded = 1;
        }
    }
    return list;
}

/* Read off printing_status_json, so that /health and /metrics cannot
 * disagree. Registry ids and printer keys need no escaping in a label. */
void printing_metrics(printing *p, text_buf *out)
{
    static const struct {
        const char *name, *type, *help, *field;
    } metrics[] = {
        {"kb_printer_degraded", "gauge", "1 while the kitchen printer is degraded (failing, or CUPS holds its tickets).",
         "state"},
        {"kb_printer_pending_tickets", "gauge", "Tickets waiting for the printer (for CUPS: not yet taken by CUPS).",
         "pending"},
        {"kb_printer_printed_total", "counter", "Tickets the printer (or CUPS) took since the bridge started.",
         "printed"},
    };
    int degraded;
    cJSON *list = printing_status_json(p, &degraded);
    if (!list) {
        out->failed = 1;
        return;
    }
    for (size_t m = 0; m < sizeof metrics / sizeof *metrics; m++) {
        text_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", metrics[m].name, metrics[m].help, metrics[m].name,
                        metrics[m].type);
        const cJSON *o;
        cJSON_ArrayForEach(o, list) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, metrics[m].field);
            double value = cJSON_IsString(v) ? strcmp(v->valuestring, "degraded") == 0 : cJSON_GetNumberValue(v);
            text_buf_printf(out, "%s{printer=\"%s\",tenant=\"%s\"} %.0f\n", metrics[m].name,
                            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "printer")),
                            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "tenant")), value);
        }
    }
    cJSON_Delete(list);
}
