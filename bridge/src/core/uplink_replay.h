/* uplink_replay.h - re-sends journaled events that head office has not
 * confirmed (docs/UPLINK.md).
 *
 * The outlet broker's own bridge forwards every event to head office and
 * queues them while the internet is down, but only in memory: a power cut
 * loses that queue. Head office publishes, per tenant, the highest seq it
 * has stored with no gap below it; the uplink brings that down as the
 * retained outlet/uplink/seen/<tenant>, which the app routes to
 * uplink_replay_on_seen. When the journal is ahead for longer than a grace
 * period, uplink_replay_tick re-publishes the missing events, 100 at a time,
 * through `publish` on outlet/uplink/replay/<tenant>, a topic no device may
 * read, which the uplink forwards. Off (NULL) unless KB_UPLINK=1. */
#ifndef KB_UPLINK_REPLAY_H
#define KB_UPLINK_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "order_pipeline.h"
#include "status.h"

typedef struct uplink_replay uplink_replay;
/* Sends one event document on `topic`: 0, or -1 (the batch stops there). */
typedef int (*uplink_publish_fn)(void *ctx, const char *topic, const char *doc);

/* Borrows the pipeline (seqs, journal) and status (counts). NULL if out of memory. */
uplink_replay *uplink_replay_new(kb_pipeline *p, kb_status *s, double grace_ms, uplink_publish_fn publish, void *ctx);
void uplink_replay_free(uplink_replay *u);
void uplink_replay_on_seen(uplink_replay *u, const char *tenant, const void *payload, size_t len);
/* Checks each tenant at most once a second; call it only while the broker
 * link is up. */
void uplink_replay_tick(uplink_replay *u);
/* The highest seq of `tenant` head office has stored with no gap below it:
 * INT64_MAX with the uplink off (u NULL: nothing waits for events), -1
 * while head office has said nothing about the tenant. Retention deletes
 * no event above it. */
int64_t uplink_replay_seen(const uplink_replay *u, const char *tenant);

#endif
