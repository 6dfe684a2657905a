/* dynsec_sync.h - keeps the broker's dynamic-security store in step with the
 * tenant registry, so the broker itself enforces tenant isolation.
 *
 * Sync is a diff: the bridge lists the broker's clients and roles, asks
 * dynsec_plan.c (pure, unit-tested) what must change, and sends only that,
 * because changing a client's roles disconnects it. After a sync each device's identity is published retained on
 * outlet/device/<username>/info. */
#ifndef KB_DYNSEC_SYNC_H
#define KB_DYNSEC_SYNC_H

#include <stddef.h>

#include "bridge.h"

/* Asks the broker for its current clients and roles; the diff follows when
 * the answer arrives. */
void dynsec_sync_start(bridge *b);
void dynsec_sync_on_response(bridge *b, const void *payload, size_t len);
/* Clears the device info of devices that `old` has and the current registry
 * lacks (after a registry reload). */
void dynsec_sync_forget_removed(bridge *b, const registry *old);

#endif
