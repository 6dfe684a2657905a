/* report_slices.c - kb-report-slices: times core/reports.c alone on a
 * journal file (e.g. the one `node tests/bench/reports_bench.mjs --journal
 * DIR` builds): each report's whole time, its number of slices (REPORT_SLICE_MS
 * each, as the bridge runs them) and its longest slice, which is how long it
 * holds the bridge's event loop at most (docs/BENCHMARKS.md, "Reports").
 *
 *   kb-report-slices JOURNAL.db FROM TO [TENANT|*] [SLICE_MS [SLICE_ROWS]]
 *
 * SLICE_MS (default REPORT_SLICE_MS) and SLICE_ROWS (REPORT_SLICE_ROWS)
 * try other slices; SLICE_MS 0 bounds them by rows only.
 *
 * The registry is the demo registry's tenants and stations. Read-only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "registry.h"
#include "reports.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: kb-report-slices JOURNAL.db FROM TO [TENANT|*] [SLICE_MS [SLICE_ROWS]]\n");
        return 2;
    }
    const char *reg = "{\"outlet\":{\"id\":\"o\"},\"tenants\":[{\"id\":\"pizza\",\"stations\":[\"oven\",\"cold\",\"bar\"],"
                      "\"devices\":[]},{\"id\":\"burger\",\"devices\":[]},{\"id\":\"noodle\",\"devices\":[]}],"
                      "\"admins\":[{\"username\":\"admin\"}]}";
    registry *r;
    char err[256];
    if (registry_parse(reg, strlen(reg), &r, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const char *tenant = argc > 4 && strcmp(argv[4], "*") != 0 ? argv[4] : NULL;
    double slice_ms = argc > 5 ? atof(argv[5]) : REPORT_SLICE_MS;
    int slice_rows = argc > 6 ? atoi(argv[6]) : REPORT_SLICE_ROWS;
    report_query q = {tenant, kb_iso_parse_ms(argv[2]), kb_iso_parse_ms(argv[3]), REPORT_BY_HOUR, 0};
    static const char *const names[] = {"hour", "day", "station"};
    int rc = 0;
    for (int by = REPORT_BY_HOUR; by <= REPORT_BY_STATION && rc == 0; by++) {
        q.by = (report_by)by;
        double t0 = kb_now_ms(), worst = 0;
        int worst_at = 0;
        report *rp = report_start(argv[1], &q, r, err, sizeof err);
        if (!rp) {
            fprintf(stderr, "%s\n", err);
            rc = 1;
            break;
        }
        int step, slices = 0;
        do {
            double s = kb_now_ms();
            step = report_step(rp, slice_rows, slice_ms, err, sizeof err);
            double d = kb_now_ms() - s;
            if (d > worst) {
                worst = d;
                worst_at = slices;
            }
            slices++;
        } while (step == 0);
        char *json = step == 1 ? report_json(rp, 30) : NULL;
        printf("tenant %s by=%s: %.1f ms, %d slices, longest slice %.2f ms (slice %d), %zu bytes of JSON\n",
               tenant ? tenant : "*", names[by], kb_now_ms() - t0, slices, worst, worst_at + 1, json ? strlen(json) : 0);
        if (step != 1) {
            fprintf(stderr, "%s\n", err);
            rc = 1;
        }
        free(json);
        report_free(rp);
    }
    registry_free(r);
    return rc;
}
