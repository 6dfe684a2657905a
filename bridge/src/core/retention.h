/* retention.h - closed orders and their events leave the journal once they
 * are older than KB_RETENTION (30d).
 *
 * Once a second, from the app's tick and never inside the pipeline's open
 * batch, at most RETENTION_BATCH instances are deleted in one transaction of
 * their own (a few milliseconds of the event loop); while batches come out
 * full, one runs at every tick (100 ms) until it catches up. With the uplink
 * on, an instance stays until head office has stored its last event
 * (uplink_replay_seen). Counts what it deleted in the status registry. */
#ifndef KB_RETENTION_H
#define KB_RETENTION_H

#include <stdint.h>

#include "journal.h"
#include "status.h"
#include "uplink_replay.h"

typedef struct {
    journal *journal;
    kb_status *status;
    const uplink_replay *uplink; /* NULL: the uplink is off */
    int64_t retention_ms;
    double last_ms;
    int behind; /* the last batch was full: go on at the next tick */
} retention;

void retention_tick(retention *r);

#endif
