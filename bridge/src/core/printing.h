/* printing.h - kitchen printers as the safety net (issue 18): which order
 * goes to which printer and when, the queue's hand-off, retries, and state.
 *
 * Printers are the registry's (registry.h registry_printer): a tenant's
 * prints whole orders, a station's prints that station's items only.
 *
 * Who sees an order (its "coverage"): a station is covered while a kitchen
 * screen of its tenant is online that is bound to that station or to none
 * (a whole-order screen; legacy kitchens included: the legacy gateway
 * publishes their presence). Expo and board screens do not count: a cook
 * does not read them. A tenant without stations is one station. A tenant's
 * printer covers the stations that have no printer of their own.
 *
 * When a ticket is made (mode backup / always; off makes none):
 * - a new order: always; backup when a station of it that the printer
 *   covers has no screen;
 * - a cancel: when that printer has a ticket of the order, or (backup) when
 *   its screen is off;
 * - a screen goes off (a station goes from covered to not, backup mode,
 *   from_screen): each open order with that station's part not yet ready
 *   that the printer has no ticket of, once, marked FROM SCREEN;
 * - presence becomes known (a few seconds after the bridge's start or a
 *   broker reconnect, once the retained presence and the legacy kitchens are
 *   back): the backup printers decide, as above, for the new orders that
 *   came while it was not (none is left unprinted, and none printed because
 *   presence was not yet read); and a screen not back by then counts as
 *   gone off (FROM SCREEN, for its open orders without a ticket). A screen
 *   back within the settling time prints nothing;
 * - a person's reprint (kitchen page, admin page); a test print.
 * A job of a change is written in the change's batch (print_queue.h).
 *
 * Hand-off (printing_tick, after the pipeline's commit): each printer
 * takes its oldest job when it has none in flight and its retry time has
 * come; a failure keeps the job first in its queue and waits 0.5 s, doubling
 * to PRINTING_RETRY_MAX_MS. The transport never blocks the loop.
 *
 * A CUPS printer's ticket is done once CUPS has taken it; CUPS then keeps
 * and retries it itself (a USB printer that is off or unplugged). So that
 * such a printer is not shown as fine while nothing comes out, the loop asks
 * the transport what CUPS still holds (probe): at the first tick, then
 * PRINTING_PROBE_MS after each hand-off, and every PRINTING_PROBE_MS while
 * CUPS holds tickets. A ticket that has been CUPS's oldest for cups_stuck_ms
 * makes the printer degraded, with CUPS's own message, until CUPS holds
 * nothing or moves on. A probe takes the printer's hand-off slot, like a job.
 *
 * Everything runs on the loop's thread. */
#ifndef KB_PRINTING_H
#define KB_PRINTING_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "presence.h"
#include "registry.h"
#include "text_buf.h"

#define PRINTING_RETRY_MIN_MS 500.0
#define PRINTING_RETRY_MAX_MS 8000.0
#define PRINTING_PROBE_MS 2000.0

typedef struct printing printing;

/* How tickets leave (adapters/printer). send hands job `job` of printer
 * `key`, configured as `p`, its `len` bytes (borrowed for the call); its
 * result comes back later through printing_result. 0, or -1 if it cannot be
 * taken now (it is tried again at a later tick). probe (may be NULL: never
 * asked) asks what CUPS still holds of CUPS printer `key`; its answer comes
 * back through printing_probed; 0, or -1 if not taken now. cups_stuck_ms:
 * how long a ticket may stay CUPS's oldest before the printer is degraded. */
typedef struct {
    int (*send)(void *ctx, const char *key, const registry_printer *p, int64_t job, const unsigned char *bytes,
                size_t len);
    int (*probe)(void *ctx, const char *key, const registry_printer *p);
    void *ctx;
    double cups_stuck_ms;
} printing_transport;

/* Borrows everything; *reg is read at each call. NULL with err set. */
printing *printing_new(journal *j, registry *const *reg, const presence *table, const printing_transport *t,
                       char *err, size_t errlen);
void printing_free(printing *p);

/* The pipeline observer (a kb_change_fn): an accepted change, in its batch. */
void printing_changed(void *ctx, const char *tenant, const char *doc, int created);

/* From the loop, after the pipeline's flush. presence_known: the retained
 * presence has been read (the broker connection is up and settled). */
void printing_tick(printing *p, int presence_known, double now_ms);

/* The transport's answer for job `job` of printer `key` (from the loop;
 * `error` borrowed, NULL when ok). wrote_any: bytes may have reached paper. */
void printing_result(printing *p, const char *key, int64_t job, int ok, int wrote_any, const char *error);

/* The transport's answer to a probe of CUPS printer `key` (from the loop;
 * strings borrowed): ok=0 if CUPS could not say (a ticket's own lp will
 * report that), else `waiting` tickets CUPS holds, the oldest's id and
 * CUPS's message about the printer. */
void printing_probed(printing *p, const char *key, int ok, int waiting, const char *oldest, const char *message);

/* A person's reprint of the latest instance of order_number (open or
 * closed) of tenant, on station's printer, or the tenant's if the station
 * has none (station NULL: every printer of the tenant that has items of
 * it). A test print on printer `key`. Both: 0 (the
 * job is committed and will print), or -1 with err a line for the person. */
int printing_reprint(printing *p, const char *tenant, const char *order_number, const char *station, char *err,
                     size_t errlen);
int printing_test(printing *p, const char *key, char *err, size_t errlen);

/* /health's "printers" (an array, one object per registry printer) and
 * *degraded = 1 if one of them is failing. NULL if out of memory. */
cJSON *printing_status_json(printing *p, int *degraded);

/* /metrics: kb_printer_degraded, kb_printer_pending_tickets and
 * kb_printer_printed_total per printer, appended to out (text_buf.h). */
void printing_metrics(printing *p, text_buf *out);

#endif
