/* reports.h - speed-of-service reports from the journal's summary rows
 * (order_times, station_times; journal.c), as JSON or CSV
 * (docs/ADMIN-API.md "Reports").
 *
 * A report reads on a read-only SQLite connection of its own (WAL lets it
 * read while the bridge writes) and in slices: report_step reads at most
 * max_rows rows, or for at most about max_ms, and returns, so the caller
 * runs it a slice per turn of the event loop and orders never wait for it. What it needs of the registry
 * (tenants, their stations and late_after) is copied at report_start, so a
 * reload between slices changes nothing. Figures are seconds; p50 and p90
 * are nearest-rank percentiles. */
#ifndef KB_REPORTS_H
#define KB_REPORTS_H

#include <stddef.h>

#include "registry.h"

typedef enum { REPORT_BY_HOUR, REPORT_BY_DAY, REPORT_BY_STATION } report_by;

typedef struct {
    const char *tenant; /* NULL: every tenant */
    long long from_ms, to_ms; /* created in [from, to) */
    report_by by;
    int tz_minutes; /* the offset hours and days are cut in */
} report_query;

#define REPORT_MAX_DAYS 366
#define REPORT_SLOWEST 20

typedef struct report report;

/* Checks q against r (0, or -1 with err a line for the sender) and opens
 * the journal file at db_path read-only. NULL with err set on failure. */
report *report_start(const char *db_path, const report_query *q, const registry *r, char *err, size_t errlen);
/* The bridge's slice: rows are read, and figures computed, for this long
 * at most (plus one row, or one group's percentiles), then the event loop
 * goes on (docs/BENCHMARKS.md "Reports"). */
#define REPORT_SLICE_MS 0.25
#define REPORT_SLICE_ROWS 100000 /* the time bound comes first */

/* Reads up to max_rows more rows, and for at most max_ms if it is > 0:
 * 1 finished, 0 more to read, -1 failed (err). */
int report_step(report *rp, int max_rows, double max_ms, char *err, size_t errlen);
/* The finished report (malloc'd; NULL if out of memory). retention_days is
 * what the journal keeps (KB_RETENTION). */
char *report_json(const report *rp, int retention_days);
char *report_csv(const report *rp);
void report_free(report *rp);
/* Parses "+07:00" / "-05:30" / "Z": 0 and *minutes, or -1. */
int report_parse_tz(const char *s, int *minutes);

#endif
