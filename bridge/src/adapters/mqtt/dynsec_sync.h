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

#include <cjson/cJSON.h>
#include <stdint.h>

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
/* The verdict on a dynsec_sync_call: error NULL if the broker carried out
 * every command, else the first failure's text (the broker's, or "the
 * broker did not answer" after DYNSEC_CALL_TIMEOUT_MS). Called once per
 * accepted call, from the loop, never from within dynsec_sync_call, and
 * never after dynsec_sync_free. */
typedef void (*dynsec_done_fn)(void *ctx, uint32_t token, const char *error);
#define DYNSEC_CALL_TIMEOUT_MS 5000.0
/* Sends `cmds` (a cJSON array of dynamic-security commands, taken; they may
 * carry secrets, which are never logged) as one message, and reports the
 * broker's answer to done(ctx, token). 0, or -1 (not connected to the
 * broker, too many calls waiting, out of memory): then done is not called. */
int dynsec_sync_call(dynsec_sync *d, cJSON *cmds, dynsec_done_fn done, void *ctx, uint32_t token);
/* Ends calls the broker has not answered in time (from the bridge's tick). */
void dynsec_sync_tick(dynsec_sync *d);
/* Clears the device info of devices that `old` has and the current registry
 * lacks (after a registry reload). */
void dynsec_sync_forget_removed(dynsec_sync *d, const registry *old);

#endif
