/* board.h - the customer-facing pickup board of each tenant: which order
 * numbers are being prepared and which are ready, and nothing else.
 *
 * A board screen must never receive an order's items, customer, table or
 * notes, so it reads no order topic: the bridge keeps, per tenant, a
 * sanitised document and hands it to `publish` (retained on
 * outlet/board/<tenant>, topics.h) whenever it changes:
 *
 *   {"tenant", "tenant_name", "preparing": ["17", "18"],
 *    "ready": [{"number": "16", "since": "<ISO>", "name": "Ana"}]}
 *
 * "preparing" holds accepted and preparing orders (new ones are left out),
 * oldest first; "ready" the ready ones, oldest first, each until it is
 * served or cancelled, or for `ready_for_ms` (KB_BOARD_READY_FOR). "name"
 * is the order's pickup_name, only where the tenant sets board_names.
 * Fed by the pipeline's change observer (board_changed) and, at start, by
 * the journal's open orders (board_load); board_tick expires ready numbers.
 * Does nothing while the registry has no board device. */
#ifndef KB_BOARD_H
#define KB_BOARD_H

#include <stdint.h>

#include "journal.h"
#include "registry.h"

typedef struct board board;
/* Publishes tenant's board document retained: 0, or -1. */
typedef int (*board_publish_fn)(void *ctx, const char *tenant, const char *doc);

/* Borrows *reg (read at each call). NULL if out of memory. */
board *board_new(registry *const *reg, int64_t ready_for_ms, board_publish_fn publish, void *ctx);
void board_free(board *b);
/* Every open order of the journal, at start (before any change). */
void board_load(board *b, journal *j);
/* The pipeline's change observer (ctx: the board). */
void board_changed(void *ctx, const char *tenant, const char *doc, int created);
/* Expires ready numbers; publishes what changed. Call every tick. */
void board_tick(board *b);
/* Publishes every tenant's document (ctx: the board): at each connect. */
void board_publish_all(void *ctx);

#endif
