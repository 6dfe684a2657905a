/* uplink_replay.h - re-sends journaled events that head office has not
 * confirmed (docs/UPLINK.md).
 *
 * The outlet broker's own bridge forwards every event to head office and
 * queues them while the internet is down, but only in memory: a power cut
 * loses that queue. Head office publishes, per tenant, the highest seq it
 * has stored with no gap below it; the uplink brings that down as the
 * retained outlet/uplink/seen/<tenant>. When the journal is ahead for longer
 * than a grace period, the bridge re-publishes the missing events, 100 at a
 * time, on outlet/uplink/replay/<tenant>, a topic no device may read, which
 * the uplink forwards. Off unless KB_UPLINK=1. */
#ifndef KB_UPLINK_REPLAY_H
#define KB_UPLINK_REPLAY_H

#include <stddef.h>

#include "bridge.h"

void uplink_replay_init(bridge *b);
void uplink_replay_on_connect(bridge *b);
void uplink_replay_on_seen(bridge *b, const char *tenant, const void *payload, size_t len);
void uplink_replay_tick(bridge *b);
/* The highest seq of `tenant` head office has stored with no gap below it:
 * INT64_MAX with the uplink off (nothing waits for events), -1 while head
 * office has said nothing about the tenant. Retention deletes no event
 * above it. */
int64_t uplink_replay_seen(bridge *b, const char *tenant);
void uplink_replay_shutdown(bridge *b);

#endif
