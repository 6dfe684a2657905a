/* registry_edit.c - see registry_edit.h. */
#include "registry_edit.h"

#include <stdio.h>
#include <string.h>

#include "errbuf.h"
#include "registry.h"

/* doc[key], an array, created if absent; NULL if it is something else. */
static cJSON *array_of(cJSON *obj, const char *key)
{
    cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!a) a = cJSON_AddArrayToObject(obj, key);
    return cJSON_IsArray(a) ? a : NULL;
}

static cJSON *find_by(cJSON *array, const char *key, const char *value)
{
    cJSON *it;
    cJSON_ArrayForEach(it, array) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, key);
        if (cJSON_IsString(v) && strcmp(v->valuestring, value) == 0) return it;
    }
    return NULL;
}

static cJSON *find_tenant(cJSON *doc, const char *id)
{
    return find_by(cJSON_GetObjectItemCaseSensitive(doc, "tenants"), "id", id);
}

int registry_edit_add_tenant(cJSON *doc, const char *id, const char *name, char *err, size_t errlen)
{
    cJSON *tenants = array_of(doc, "tenants");
    if (!tenants) return errbuf_set(err, errlen, "the registry's tenants are not a list");
    if (find_tenant(doc, id)) return errbuf_set(err, errlen, "tenant %s already exists", id);
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "id", id);
    cJSON_AddStringToObject(t, "name", name && name[0] ? name : id);
    cJSON_AddArrayToObject(t, "devices");
    cJSON_AddItemToArray(tenants, t);
    return 0;
}

int registry_edit_rename_tenant(cJSON *doc, const char *id, const char *name, char *err, size_t errlen)
{
    cJSON *t = find_tenant(doc, id);
    if (!t) return errbuf_set(err, errlen, "there is no tenant %s", id);
    if (!name || !name[0]) return errbuf_set(err, errlen, "a tenant's name cannot be empty");
    cJSON *copy = cJSON_CreateString(name);
    if (!copy) return errbuf_set(err, errlen, "out of memory");
    if (cJSON_GetObjectItemCaseSensitive(t, "name")) cJSON_ReplaceItemInObjectCaseSensitive(t, "name", copy);
    else cJSON_AddItemToObject(t, "name", copy);
    return 0;
}

int registry_edit_add_station(cJSON *doc, const char *tenant, const char *station, char *err, size_t errlen)
{
    cJSON *t = find_tenant(doc, tenant);
    if (!t) return errbuf_set(err, errlen, "there is no tenant %s", tenant);
    cJSON *stations = array_of(t, "stations");
    if (!stations) return errbuf_set(err, errlen, "tenant %s: its stations are not a list", tenant);
    const cJSON *s;
    cJSON_ArrayForEach(s, stations) {
        /* "bar", or {"id": "bar", "printer": {...}} */
        const char *id = cJSON_IsString(s) ? s->valuestring : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "id"));
        if (id && strcmp(id, station) == 0)
            return errbuf_set(err, errlen, "tenant %s already has a station %s", tenant, station);
    }
    cJSON_AddItemToArray(stations, cJSON_CreateString(station));
    return 0;
}

/* Where device `username` is listed: its array and item, or NULL. */
static cJSON *find_device(cJSON *doc, const char *username, cJSON **in)
{
    cJSON *t, *d;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(doc, "tenants")) {
        cJSON *devs = cJSON_GetObjectItemCaseSensitive(t, "devices");
        if ((d = find_by(devs, "username", username))) {
            *in = devs;
            return d;
        }
    }
    static const char *const lists[] = {"admins", "boards"};
    for (size_t i = 0; i < 2; i++) {
        cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, lists[i]);
        if ((d = find_by(list, "username", username))) {
            *in = list;
            return d;
        }
    }
    return NULL;
}

int registry_edit_add_device(cJSON *doc, const char *username, const char *role, const char *tenant,
                             const char *station, const cJSON *tenants, char *err, size_t errlen)
{
    cJSON *in;
    if (find_device(doc, username, &in)) return errbuf_set(err, errlen, "device %s already exists", username);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "username", username);
    if (strcmp(role, "board") == 0) {
        cJSON *boards = array_of(doc, "boards");
        if (!boards) {
            cJSON_Delete(d);
            return errbuf_set(err, errlen, "the registry's boards are not a list");
        }
        cJSON *shows = tenants ? cJSON_Duplicate(tenants, 1) : cJSON_CreateString("*");
        cJSON_AddItemToObject(d, "tenants", shows);
        cJSON_AddItemToArray(boards, d);
        return 0;
    }
    if (strcmp(role, "pos") != 0 && strcmp(role, "kitchen") != 0 && strcmp(role, "expo") != 0) {
        cJSON_Delete(d);
        return errbuf_set(err, errlen, "role must be pos, kitchen, expo or board");
    }
    if (station && station[0] && strcmp(role, "kitchen") != 0) {
        cJSON_Delete(d);
        return errbuf_set(err, errlen, "only a kitchen screen is bound to a station");
    }
    cJSON *t = tenant ? find_tenant(doc, tenant) : NULL;
    cJSON *devs = t ? array_of(t, "devices") : NULL; /* created only when it will be used */
    if (!devs) {
        cJSON_Delete(d);
        return errbuf_set(err, errlen, tenant ? "there is no tenant %s" : "a %s device needs a tenant", tenant ? tenant : role);
    }
    cJSON_AddStringToObject(d, "role", role);
    if (station && station[0]) cJSON_AddStringToObject(d, "station", station);
    cJSON_AddItemToArray(devs, d);
    return 0;
}

int registry_edit_remove_device(cJSON *doc, const char *username, char *err, size_t errlen)
{
    cJSON *in;
    cJSON *d = find_device(doc, username, &in);
    if (!d) return errbuf_set(err, errlen, "there is no device %s", username);
    if (in == cJSON_GetObjectItemCaseSensitive(doc, "admins") && cJSON_GetArraySize(in) == 1)
        return errbuf_set(err, errlen, "%s is the last admin; add another admin first", username);
    cJSON_Delete(cJSON_DetachItemViaPointer(in, d));
    return 0;
}
