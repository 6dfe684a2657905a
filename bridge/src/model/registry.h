/* registry.h - the tenant registry: the outlet, its tenants and their devices.
 *
 * The registry file (JSON) is the single source of who may connect and what
 * each device may see. The bridge derives the broker's dynamic-security
 * clients and roles from it (dynsec_sync.c). Ids are restricted to
 * [a-z0-9_-] (1-32 chars) so they can never carry MQTT wildcards or
 * separators; a registry that breaks a rule is refused as a whole. */
#ifndef KB_REGISTRY_H
#define KB_REGISTRY_H

#include <stddef.h>

#define REGISTRY_ID_MAX 32
#define REGISTRY_NAME_MAX 128

typedef enum { DEVICE_POS, DEVICE_KITCHEN, DEVICE_ADMIN } device_role;

typedef struct {
    char id[REGISTRY_ID_MAX + 1];
    char name[REGISTRY_NAME_MAX + 1];
} registry_tenant;

typedef struct {
    char username[REGISTRY_ID_MAX + 1];
    device_role role;
    int tenant; /* index into tenants; -1 for admins */
} registry_device;

typedef struct {
    char outlet_id[REGISTRY_ID_MAX + 1];
    char outlet_name[REGISTRY_NAME_MAX + 1];
    int demo;        /* demo mode: each password equals its username */
    int legacy_open; /* legacy gateway accepts anonymous clients */
    registry_tenant *tenants;
    size_t n_tenants;
    registry_device *devices;
    size_t n_devices;
} registry;

int registry_load(const char *path, registry **out, char *err, size_t errlen);
int registry_parse(const char *text, size_t len, registry **out, char *err, size_t errlen);
void registry_free(registry *r);

const registry_device *registry_find_device(const registry *r, const char *username);
const registry_tenant *registry_find_tenant(const registry *r, const char *id);
/* The tenant device `d` of `r` belongs to; NULL for an admin. */
const registry_tenant *registry_tenant_of(const registry *r, const registry_device *d);
const char *device_role_name(device_role role);
/* 1 if s is 1-32 characters of [a-z0-9_-]. */
int registry_id_valid(const char *s);

#endif
