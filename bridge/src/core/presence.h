/* presence.h - the live table of which devices are on, fed by the devices'
 * own retained presence topics (docs/CONTRACT.md "Presence").
 *
 * One entry per device ever heard from since the bridge started (the
 * broker's retained copies arrive at each connect, so a restart rebuilds
 * it). Times are the bridge's clock when a presence message arrived, never
 * the tablet's: `since` is when the device went on (or off), `last_seen`
 * the last time the bridge heard it was on. The address is where the bridge
 * last saw the device connect from (a pairing, a legacy connection), when it
 * knows. Entries of devices the registry no longer has are left out of every
 * answer (presence_devices_json lists registry devices only). Times here are
 * wall-clock milliseconds (kb_wall_ms), as they are shown. */
#ifndef KB_PRESENCE_H
#define KB_PRESENCE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "registry.h"
#include "text_buf.h"

typedef struct {
    char device[REGISTRY_ID_MAX + 1];
    int known;  /* a presence message has been seen */
    int online;
    double since_ms, last_seen_ms, paired_ms; /* 0: never */
    char page[64], version[32], user_agent[200], address[64];
} presence_entry;

typedef struct presence presence;

presence *presence_new(void);
void presence_free(presence *p);
/* A presence message for device (its payload, len bytes; empty = cleared).
 * Returns 1 if the device's online state changed, 0 if not, -1 if the
 * payload is not a presence document or out of memory (nothing changes). */
int presence_update(presence *p, const char *device, const void *payload, size_t len, double now_ms);
/* A retained presence document read at a (re)connect of the bridge says the
 * device has been on since `device_since_ms` (the page's clock, the
 * bridge's where the page has it): moves `since` back to it, if the device
 * is on, that is earlier than the arrival, and no more than
 * PRESENCE_BACKDATE_MAX_MS before now (a tablet's clock can be far off). */
#define PRESENCE_BACKDATE_MAX_MS (7 * 24 * 3600 * 1000.0)
void presence_backdate(presence *p, const char *device, double device_since_ms, double now_ms);
/* Notes where device connected from, and (paired != 0) that it was paired now. */
void presence_note_address(presence *p, const char *device, const char *address, int paired, double now_ms);
const presence_entry *presence_find(const presence *p, const char *device);
/* 1 if device is online now. */
int presence_online(const presence *p, const char *device);
/* How many of r's devices of tenant index `tenant` (and role, or any role
 * with role < 0) are online. */
int presence_count(const presence *p, const registry *r, int tenant, int role);
/* The /api/devices list: one object per device of r (a cJSON array). */
cJSON *presence_devices_json(const presence *p, const registry *r);
/* Prometheus lines: kb_devices_online{tenant,role} for each tenant and
 * pos, kitchen, expo, and {tenant="",role="board"} for the boards, with
 * their HELP and TYPE, appended to out (text_buf.h). */
void presence_metrics(const presence *p, const registry *r, text_buf *out);

#endif
