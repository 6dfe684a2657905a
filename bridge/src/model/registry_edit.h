/* registry_edit.h - the changes the admin API makes to a registry, made on
 * the registry file's own JSON document, so whatever else the file holds
 * (keys the bridge does not read, an operator's order) survives.
 *
 * Each edit checks only what it needs to find its place (the tenant exists,
 * the device exists); the result is then checked whole by registry_parse,
 * the same rules a start or a SIGHUP applies (ids, duplicates, stations),
 * before anything is saved. Each returns 0, or -1 with err set to a line for
 * the admin; on -1 the document is unchanged. */
#ifndef KB_REGISTRY_EDIT_H
#define KB_REGISTRY_EDIT_H

#include <cjson/cJSON.h>
#include <stddef.h>

int registry_edit_add_tenant(cJSON *doc, const char *id, const char *name, char *err, size_t errlen);
int registry_edit_rename_tenant(cJSON *doc, const char *id, const char *name, char *err, size_t errlen);
int registry_edit_add_station(cJSON *doc, const char *tenant, const char *station, char *err, size_t errlen);
/* role: pos, kitchen, expo (tenant needed; station only for a kitchen), or
 * board (tenant NULL; `tenants` a JSON string "*" or array of ids, copied;
 * NULL means "*"). */
int registry_edit_add_device(cJSON *doc, const char *username, const char *role, const char *tenant,
                             const char *station, const cJSON *tenants, char *err, size_t errlen);
/* Removes a device of any role but the last admin. */
int registry_edit_remove_device(cJSON *doc, const char *username, char *err, size_t errlen);

#endif
