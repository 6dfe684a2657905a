/* dynsec_sync.h - keeps the broker's dynamic-security store in step with the
 * tenant registry, so the broker itself enforces tenant isolation.
 *
 * Sync is a diff: the bridge lists the broker's clients and roles, asks
 * dynsec_plan.c (model: pure, unit-tested) what must change, and sends only
 * that, because changing a client's roles disconnects it. After a sync each
 * device's identity is published retained on outlet/device/<username>/info,
 * and the status registry says access "synced". */
#ifndef KB_DYNSEC_SYNC_H
#define KB_DYNSEC_SYNC_H

#include "mqtt_link.h"
#include "registry.h"
#include "status.h"

typedef struct dynsec_sync dynsec_sync;

/* Routes the broker's answers here. Borrows everything; *registry is read
 * at each sync. NULL if out of memory. */
dynsec_sync *dynsec_sync_new(mqtt_link *link, registry *const *reg, const char *bridge_user, kb_status *status);
void dynsec_sync_free(dynsec_sync *d);
/* Asks the broker for its current clients and roles (ctx: the dynsec_sync);
 * the diff follows when the answer arrives. An on-connect observer, and
 * called after a registry reload. */
void dynsec_sync_start(void *ctx);
/* Clears the device info of devices that `old` has and the current registry
 * lacks (after a registry reload). */
void dynsec_sync_forget_removed(dynsec_sync *d, const registry *old);

#endif
