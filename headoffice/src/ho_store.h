/* ho_store.h - head office's PostgreSQL: every outlet's events, each stored
 * once, the order instances they make, and how far each outlet's tenant is
 * stored without a gap (docs/HEADOFFICE.md has the schema and example SQL).
 *
 * Invariants:
 * - kb_events has one row per (outlet, tenant, seq): a duplicate delivery
 *   (QoS 1 re-sends, the outlet's journal replay) is dropped by ON CONFLICT
 *   DO NOTHING.
 * - kb_seen.seq is the highest seq N of (outlet, tenant) such that every
 *   seq 1..N is in kb_events. kb_orders holds exactly the events up to it,
 *   applied once each, in seq order, in the transaction that moves it: so
 *   an order's row never sees a change before the ones that precede it.
 * - ho_store_commit writes a batch in one transaction: on failure nothing
 *   of it is stored and the caller keeps the batch to try again. */
#ifndef KB_HO_STORE_H
#define KB_HO_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ho_event.h"

typedef struct ho_store ho_store;

/* One event to store: its parsed fields and the payload as it came. */
typedef struct {
    ho_event e;
    char *doc; /* malloc'd JSON text */
} ho_item;

/* A (outlet, tenant) whose seen moved in the last commit. */
typedef struct {
    char outlet[HO_ID_MAX + 1];
    char tenant[HO_ID_MAX + 1];
    int64_t seen;
} ho_seen;

/* Connects (libpq conninfo or URL, and a password or NULL; neither is ever
 * logged) and creates or migrates the schema. NULL with err set. */
ho_store *ho_store_open(const char *conninfo, const char *password, char *err, size_t errlen);
void ho_store_close(ho_store *s);
/* Stores n items and moves seen. 0 with *moved (malloc'd, *n_moved; free
 * it) the pairs whose seen moved; -1 with err set (the connection is reset
 * before the next try). */
int ho_store_commit(ho_store *s, const ho_item *items, size_t n, ho_seen **moved, size_t *n_moved, char *err,
                    size_t errlen);
/* Every (outlet, tenant)'s seen, to publish again after a (re)connect: 0
 * with *all malloc'd, or -1. */
int ho_store_all_seen(ho_store *s, ho_seen **all, size_t *n, char *err, size_t errlen);

#endif
