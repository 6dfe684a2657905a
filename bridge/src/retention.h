/* retention.h - closed orders and their events leave the journal once they
 * are older than KB_RETENTION (30d).
 *
 * Once a second, from the bridge's tick and never inside the order
 * service's open batch, at most RETENTION_BATCH instances are deleted in one
 * transaction of their own (a few milliseconds of the event loop); while
 * batches come out full, one runs at every tick (100 ms) until it catches up. With the
 * uplink on, an instance stays until head office has stored its last event
 * (uplink_replay_seen). Counts what it deleted for /metrics. */
#ifndef KB_RETENTION_H
#define KB_RETENTION_H

#include "bridge.h"

void retention_tick(bridge *b);

#endif
