/* presence.c - see presence.h. A flat array: an outlet has tens of devices. */
#include "presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json_util.h"

struct presence {
    presence_entry *e;
    size_t n, cap;
};

presence *presence_new(void) { return calloc(1, sizeof(presence)); }

void presence_free(presence *p)
{
    if (!p) return;
    free(p->e);
    free(p);
}

static presence_entry *find(const presence *p, const char *device)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->e[i].device, device) == 0) return &p->e[i];
    return NULL;
}

static presence_entry *find_or_add(presence *p, const char *device)
{
    presence_entry *e = find(p, device);
    if (e) return e;
    if (strlen(device) > REGISTRY_ID_MAX) return NULL;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        presence_entry *grown = realloc(p->e, cap * sizeof *grown);
        if (!grown) return NULL;
        p->e = grown;
        p->cap = cap;
    }
    e = &p->e[p->n++];
    memset(e, 0, sizeof *e);
    strcpy(e->device, device);
    return e;
}

static void copy_field(char *dst, size_t len, const cJSON *doc, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
    if (!cJSON_IsString(v)) {
        dst[0] = '\0';
        return;
    }
    /* Printable ASCII only: it is shown on the admin page and in JSON. */
    size_t o = 0;
    for (const char *s = v->valuestring; *s && o + 1 < len; s++)
        dst[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    dst[o] = '\0';
}

int presence_update(presence *p, const char *device, const void *payload, size_t len, double now_ms)
{
    int online = 0;
    cJSON *doc = NULL;
    if (len > 0) {
        doc = json_parse_exact(payload, len);
        const cJSON *on = cJSON_GetObjectItemCaseSensitive(doc, "online");
        if (!cJSON_IsBool(on)) {
            cJSON_Delete(doc);
            return -1;
        }
        online = cJSON_IsTrue(on);
    }
    presence_entry *e = find_or_add(p, device);
    if (!e) {
        cJSON_Delete(doc);
        return -1;
    }
    int changed = e->known != (len > 0) || e->online != online;
    if (changed) e->since_ms = now_ms;
    if (online || e->online) e->last_seen_ms = now_ms; /* on now, or on until now */
    if (online) {
        copy_field(e->page, sizeof e->page, doc, "page");
        copy_field(e->version, sizeof e->version, doc, "version");
        copy_field(e->user_agent, sizeof e->user_agent, doc, "user_agent");
    }
    e->known = len > 0;
    e->online = online;
    cJSON_Delete(doc);
    return changed;
}

void presence_backdate(presence *p, const char *device, double device_since_ms, double now_ms)
{
    presence_entry *e = find(p, device);
    if (e && e->online && device_since_ms > 0 && device_since_ms < e->since_ms &&
        now_ms - device_since_ms <= PRESENCE_BACKDATE_MAX_MS)
        e->since_ms = device_since_ms;
}

void presence_note_address(presence *p, const char *device, const char *address, int paired, double now_ms)
{
    presence_entry *e = find_or_add(p, device);
    if (!e) return;
    snprintf(e->address, sizeof e->address, "%s", address);
    if (paired) e->paired_ms = now_ms;
}

const presence_entry *presence_find(const presence *p, const char *device) { return find(p, device); }

int presence_online(const presence *p, const char *device)
{
    const presence_entry *e = find(p, device);
    return e && e->online;
}

int presence_count(const presence *p, const registry *r, int tenant, int role)
{
    int n = 0;
    for (size_t i = 0; i < r->n_devices; i++) {
        const registry_device *d = &r->devices[i];
        if (d->tenant == tenant && (role < 0 || (int)d->role == role) && presence_online(p, d->username)) n++;
    }
    return n;
}

static void add_time(cJSON *obj, const char *key, double ms)
{
    char iso[40];
    if (ms > 0) {
        kb_iso_from_ms((long long)ms, iso, sizeof iso);
        cJSON_AddStringToObject(obj, key, iso);
    } else {
        cJSON_AddNullToObject(obj, key);
    }
}

static void add_text(cJSON *obj, const char *key, const char *s)
{
    if (s[0]) cJSON_AddStringToObject(obj, key, s);
    else cJSON_AddNullToObject(obj, key);
}

cJSON *presence_devices_json(const presence *p, const registry *r)
{
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; list && i < r->n_devices; i++) {
        const registry_device *d = &r->devices[i];
        const registry_tenant *t = registry_tenant_of(r, d);
        const presence_entry *e = find(p, d->username);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "username", d->username);
        cJSON_AddStringToObject(o, "role", device_role_name(d->role));
        add_text(o, "tenant", t ? t->id : "");
        const char *station = registry_device_station(r, d);
        add_text(o, "station", station ? station : "");
        cJSON_AddBoolToObject(o, "online", e && e->online);
        add_time(o, "since", e && e->known ? e->since_ms : 0);
        add_time(o, "last_seen", e ? e->last_seen_ms : 0);
        add_text(o, "page", e ? e->page : "");
        add_text(o, "version", e ? e->version : "");
        add_text(o, "user_agent", e ? e->user_agent : "");
        add_text(o, "address", e ? e->address : "");
        add_time(o, "paired", e ? e->paired_ms : 0);
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

static void append_count(text_buf *out, const char *tenant, const char *role, int n)
{
    text_buf_printf(out, "kb_devices_online{tenant=\"%s\",role=\"%s\"} %d\n", tenant, role, n);
}

void presence_metrics(const presence *p, const registry *r, text_buf *out)
{
    static const device_role roles[] = {DEVICE_POS, DEVICE_KITCHEN, DEVICE_EXPO};
    text_buf_printf(out, "# HELP kb_devices_online Devices whose presence says online, per tenant and role (boards: tenant \"\").\n"
                         "# TYPE kb_devices_online gauge\n");
    for (size_t t = 0; t < r->n_tenants; t++)
        for (size_t k = 0; k < sizeof roles / sizeof *roles; k++)
            append_count(out, r->tenants[t].id, device_role_name(roles[k]), presence_count(p, r, (int)t, (int)roles[k]));
    int boards = 0;
    for (size_t i = 0; i < r->n_devices; i++)
        boards += r->devices[i].role == DEVICE_BOARD && presence_online(p, r->devices[i].username);
    append_count(out, "", "board", boards);
}
