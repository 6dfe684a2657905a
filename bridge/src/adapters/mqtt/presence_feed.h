/* presence_feed.h - feeds the presence table (core/presence.c) from the
 * devices' presence topics, and clears the retained presence of devices the
 * registry no longer has.
 *
 * Subscribes outlet/tenant/+/+/+/presence and outlet/board/+/presence. A
 * message counts only if its topic's tenant and role match the registry's
 * entry for that device (the broker lets only the device itself write it;
 * this keeps a stale retained copy from another registry out).
 *
 * The bridge also writes the presence of devices connected through the
 * legacy gateway ("via": "legacy"), marked with an id of this run of the
 * bridge; one of an earlier run that still says online (the bridge died
 * with the connection) is set offline when it arrives. */
/* It also reads the broker's notice log ($SYS/broker/log/N) for where each
 * device connected from (model/broker_log.c). */
#ifndef KB_PRESENCE_FEED_H
#define KB_PRESENCE_FEED_H

#include "mqtt_link.h"
#include "presence.h"
#include "registry.h"

typedef struct presence_feed presence_feed;
/* Called after a device's online state changed (from the loop). May be NULL. */
typedef void (*presence_changed_fn)(void *ctx, const char *device, int online);

/* Borrows everything; *reg is read at each message. NULL if out of memory. */
presence_feed *presence_feed_new(mqtt_link *link, registry *const *reg, presence *table, presence_changed_fn changed,
                                 void *ctx);
void presence_feed_free(presence_feed *f);
/* Clears the retained presence of devices `old` has and the current
 * registry lacks (after a registry change). */
void presence_feed_forget_removed(presence_feed *f, const registry *old);
/* Publishes the retained presence of a device the legacy gateway connects. */
void presence_feed_publish_legacy(presence_feed *f, const char *tenant, device_role role, const char *device,
                                  int online);

#endif
