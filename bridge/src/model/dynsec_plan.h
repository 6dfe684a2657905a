/* dynsec_plan.h - what the broker's dynamic-security store must change to
 * match the tenant registry: the pure diff, no I/O (dynsec_sync.c lists the
 * broker's clients and roles, asks for this plan, and sends it).
 *
 * Each registry device gets one role, kb-dev-<username>, holding exactly its
 * topics (docs/CONTRACT.md); admins read outlet/#. A role or client that
 * exists is changed command by command, never recreated, because changing a
 * client's roles disconnects it. Clients the bridge manages carry the
 * textname "kitchen-bus"; others are left alone. Unit-tested. */
#ifndef KB_DYNSEC_PLAN_H
#define KB_DYNSEC_PLAN_H

#include <cjson/cJSON.h>

#include "registry.h"

#define DYNSEC_MANAGED_TEXTNAME "kitchen-bus"

typedef enum {
    DYNSEC_NOTE_NO_PASSWORD,  /* a new device of a production registry: it needs `kitchen-bus set-password` */
    DYNSEC_NOTE_REMOVED,      /* a managed client no longer in the registry is deleted */
    DYNSEC_NOTE_GRANT_BRIDGE, /* the bridge's role lacks outlet/#: granted (Mosquitto then kicks it once) */
    DYNSEC_NOTE_BRIDGE_NO_ROLE /* the bridge's account has no role: it cannot publish */
} dynsec_note;

/* Called for each thing worth telling an operator; `name` is the device or
 * account. May be NULL. */
typedef void (*dynsec_note_fn)(void *ctx, dynsec_note what, const char *name);

/* The commands (a cJSON array, the caller's to free; NULL if out of memory)
 * that bring the broker's `clients` and `roles` (the data of listClients and
 * listRoles, verbose) to the registry. The first command always resets the
 * default ACL access; *changes counts the others. */
cJSON *dynsec_plan(const registry *r, const char *bridge_user, const cJSON *clients, const cJSON *roles,
                   int *changes, dynsec_note_fn note, void *ctx);

#endif
