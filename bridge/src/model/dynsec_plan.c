/* dynsec_plan.c - see dynsec_plan.h. */
#include "dynsec_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topics.h"

#define ROLE_PREFIX "kb-"
/* A tenant device has at most 14 ACLs; a board 5 and 2 per tenant it shows
 * (every tenant of the registry, for "*"). */
#define MAX_ACLS(n_tenants) (16 + 2 * (int)(n_tenants))

typedef struct {
    const char *type;
    char topic[TOPIC_MAX];
} acl;

typedef struct {
    acl *v;
    int n, cap;
} acl_list;

static void add_acl(acl_list *l, const char *type, const char *topic)
{
    if (l->n >= l->cap) return;
    l->v[l->n].type = type;
    snprintf(l->v[l->n].topic, sizeof l->v[l->n].topic, "%s", topic);
    l->n++;
}

static void add_read(acl_list *l, const char *topic)
{
    add_acl(l, "subscribePattern", topic);
    add_acl(l, "publishClientReceive", topic);
}

/* The complete ACL list of one device's role (docs/CONTRACT.md "Who may
 * read what"). A station screen reads only its station's views, never the
 * whole orders or the events; a board reads only board documents. */
static int device_acls(const registry *r, const registry_device *d, acl_list *l)
{
    l->n = 0;
    char topic[TOPIC_MAX];
    if (d->role == DEVICE_ADMIN) {
        add_read(l, "outlet/#");
        return l->n;
    }
    topic_device_info(topic, sizeof topic, d->username);
    add_read(l, topic);
    add_read(l, TOPIC_HEALTH);
    /* Its own presence, and only its own (docs/CONTRACT.md "Presence"). */
    topic_presence(topic, sizeof topic, d->role == DEVICE_BOARD ? NULL : r->tenants[d->tenant].id, d->role,
                   d->username);
    add_acl(l, "publishClientSend", topic);
    if (d->role == DEVICE_BOARD) {
        for (size_t i = 0; i < r->n_tenants; i++) {
            if (!registry_board_shows(d, (int)i)) continue;
            topic_board(topic, sizeof topic, r->tenants[i].id);
            add_read(l, topic);
        }
        return l->n;
    }
    const char *t = r->tenants[d->tenant].id;
    topic_device_in(topic, sizeof topic, t, d->role, d->username);
    add_acl(l, "publishClientSend", topic);
    topic_ack(topic, sizeof topic, t, d->role, d->username);
    add_read(l, topic);
    topic_tenant_presence(topic, sizeof topic, t); /* is anyone looking? (the POS's warning) */
    add_read(l, topic);
    const char *station = registry_device_station(r, d);
    if (station) {
        topic_station_order(topic, sizeof topic, t, station, "+");
        add_read(l, topic);
        return l->n;
    }
    topic_order(topic, sizeof topic, t, "+");
    add_read(l, topic);
    topic_events(topic, sizeof topic, t);
    add_read(l, topic);
    return l->n;
}

static void role_name(char *buf, size_t len, const char *username)
{
    snprintf(buf, len, ROLE_PREFIX "dev-%s", username);
}

static cJSON *command(cJSON *cmds, const char *name)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "command", name);
    cJSON_AddItemToArray(cmds, c);
    return c;
}

static void acl_command(cJSON *cmds, const char *name, const char *role, const char *type, const char *topic)
{
    cJSON *c = command(cmds, name);
    cJSON_AddStringToObject(c, "rolename", role);
    cJSON_AddStringToObject(c, "acltype", type);
    cJSON_AddStringToObject(c, "topic", topic);
    if (strcmp(name, "addRoleACL") == 0) cJSON_AddBoolToObject(c, "allow", 1);
}

static const cJSON *find_named(const cJSON *array, const char *key, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, array) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, key);
        if (cJSON_IsString(v) && strcmp(v->valuestring, name) == 0) return it;
    }
    return NULL;
}

static int acl_present(const cJSON *acls, const char *type, const char *topic)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, acls) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "acltype");
        const cJSON *tp = cJSON_GetObjectItemCaseSensitive(a, "topic");
        const cJSON *allow = cJSON_GetObjectItemCaseSensitive(a, "allow");
        if (cJSON_IsString(t) && cJSON_IsString(tp) && cJSON_IsTrue(allow) &&
            strcmp(t->valuestring, type) == 0 && strcmp(tp->valuestring, topic) == 0)
            return 1;
    }
    return 0;
}

/* Brings one role to exactly `acls`. */
static void plan_role(cJSON *cmds, const cJSON *roles, const char *name, const acl *acls, int n)
{
    const cJSON *have = find_named(roles, "rolename", name);
    if (!have) {
        /* One command per new role: the plugin rewrites its whole store
         * file after every command, so a command per ACL is quadratic. */
        cJSON *c = command(cmds, "createRole");
        cJSON_AddStringToObject(c, "rolename", name);
        cJSON *list = cJSON_AddArrayToObject(c, "acls");
        for (int i = 0; i < n; i++) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddStringToObject(a, "acltype", acls[i].type);
            cJSON_AddStringToObject(a, "topic", acls[i].topic);
            cJSON_AddBoolToObject(a, "allow", 1);
            cJSON_AddItemToArray(list, a);
        }
        return;
    }
    const cJSON *have_acls = cJSON_GetObjectItemCaseSensitive(have, "acls");
    for (int i = 0; i < n; i++)
        if (!acl_present(have_acls, acls[i].type, acls[i].topic))
            acl_command(cmds, "addRoleACL", name, acls[i].type, acls[i].topic);
    const cJSON *a;
    cJSON_ArrayForEach(a, have_acls) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "acltype");
        const cJSON *tp = cJSON_GetObjectItemCaseSensitive(a, "topic");
        if (!cJSON_IsString(t) || !cJSON_IsString(tp)) continue;
        int wanted = 0;
        for (int i = 0; i < n && !wanted; i++)
            wanted = strcmp(acls[i].type, t->valuestring) == 0 && strcmp(acls[i].topic, tp->valuestring) == 0;
        if (!wanted) acl_command(cmds, "removeRoleACL", name, t->valuestring, tp->valuestring);
    }
}

static void client_role_command(cJSON *cmds, const char *name, const char *user, const char *role)
{
    cJSON *c = command(cmds, name);
    cJSON_AddStringToObject(c, "username", user);
    cJSON_AddStringToObject(c, "rolename", role);
}

/* Brings one device's client to exactly one role, creating it if needed. */
static void plan_client(const registry *r, cJSON *cmds, const cJSON *clients, const registry_device *d,
                        const char *role, dynsec_note_fn note, void *ctx)
{
    const cJSON *have = find_named(clients, "username", d->username);
    if (!have) {
        cJSON *c = command(cmds, "createClient");
        cJSON_AddStringToObject(c, "username", d->username);
        if (r->demo) cJSON_AddStringToObject(c, "password", d->username);
        else if (note) note(ctx, DYNSEC_NOTE_NO_PASSWORD, d->username);
        cJSON_AddStringToObject(c, "textname", DYNSEC_MANAGED_TEXTNAME);
        cJSON *roles = cJSON_AddArrayToObject(c, "roles");
        cJSON *one = cJSON_CreateObject();
        cJSON_AddStringToObject(one, "rolename", role);
        cJSON_AddItemToArray(roles, one);
        return;
    }
    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(have, "roles");
    if (!find_named(roles, "rolename", role)) client_role_command(cmds, "addClientRole", d->username, role);
    const cJSON *it;
    cJSON_ArrayForEach(it, roles) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "rolename");
        if (cJSON_IsString(n) && strcmp(n->valuestring, role) != 0)
            client_role_command(cmds, "removeClientRole", d->username, n->valuestring);
    }
}

static int role_wanted(const registry *r, const char *name)
{
    char want[64];
    for (size_t i = 0; i < r->n_devices; i++) {
        role_name(want, sizeof want, r->devices[i].username);
        if (strcmp(want, name) == 0) return 1;
    }
    return 0;
}

/* The bridge writes outlet/#. `kitchen-bus broker-init` grants that in the
 * store it creates; granting it live kicks the bridge once (Mosquitto 2.0.11
 * disconnects every client of a role whose ACLs change). */
static void plan_bridge(cJSON *cmds, const char *bridge_user, const cJSON *clients, const cJSON *roles,
                        dynsec_note_fn note, void *ctx)
{
    const cJSON *me = find_named(clients, "username", bridge_user);
    const cJSON *my_role = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(me, "roles"), 0);
    const cJSON *my_role_name = cJSON_GetObjectItemCaseSensitive(my_role, "rolename");
    if (!cJSON_IsString(my_role_name)) {
        if (note) note(ctx, DYNSEC_NOTE_BRIDGE_NO_ROLE, bridge_user);
        return;
    }
    const cJSON *have = find_named(roles, "rolename", my_role_name->valuestring);
    if (acl_present(cJSON_GetObjectItemCaseSensitive(have, "acls"), "publishClientSend", "outlet/#")) return;
    if (note) note(ctx, DYNSEC_NOTE_GRANT_BRIDGE, bridge_user);
    acl_command(cmds, "addRoleACL", my_role_name->valuestring, "publishClientSend", "outlet/#");
}

cJSON *dynsec_plan(const registry *r, const char *bridge_user, const cJSON *clients, const cJSON *roles,
                   int *changes, dynsec_note_fn note, void *ctx)
{
    cJSON *cmds = cJSON_CreateArray();
    if (!cmds) return NULL;
    static const char *const defaults[][2] = {
        {"publishClientSend", "0"}, {"publishClientReceive", "0"}, {"subscribe", "0"}, {"unsubscribe", "1"}};
    cJSON *set = command(cmds, "setDefaultACLAccess");
    cJSON *list = cJSON_AddArrayToObject(set, "acls");
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "acltype", defaults[i][0]);
        cJSON_AddBoolToObject(a, "allow", defaults[i][1][0] == '1');
        cJSON_AddItemToArray(list, a);
    }
    plan_bridge(cmds, bridge_user, clients, roles, note, ctx);

    acl_list acls = {.cap = MAX_ACLS(r->n_tenants)};
    acls.v = malloc((size_t)acls.cap * sizeof *acls.v);
    if (!acls.v) {
        cJSON_Delete(cmds);
        return NULL;
    }
    char role[64];
    for (size_t i = 0; i < r->n_devices; i++) {
        role_name(role, sizeof role, r->devices[i].username);
        int n = device_acls(r, &r->devices[i], &acls);
        plan_role(cmds, roles, role, acls.v, n);
        plan_client(r, cmds, clients, &r->devices[i], role, note, ctx);
    }
    free(acls.v);
    const cJSON *c;
    cJSON_ArrayForEach(c, clients) {
        const cJSON *user = cJSON_GetObjectItemCaseSensitive(c, "username");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "textname");
        if (cJSON_IsString(user) && cJSON_IsString(text) &&
            strcmp(text->valuestring, DYNSEC_MANAGED_TEXTNAME) == 0 && !registry_find_device(r, user->valuestring)) {
            if (note) note(ctx, DYNSEC_NOTE_REMOVED, user->valuestring);
            cJSON_AddStringToObject(command(cmds, "deleteClient"), "username", user->valuestring);
        }
    }
    cJSON_ArrayForEach(c, roles) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "rolename");
        if (cJSON_IsString(name) && strncmp(name->valuestring, ROLE_PREFIX, strlen(ROLE_PREFIX)) == 0 &&
            !role_wanted(r, name->valuestring))
            cJSON_AddStringToObject(command(cmds, "deleteRole"), "rolename", name->valuestring);
    }
    if (changes) *changes = cJSON_GetArraySize(cmds) - 1;
    return cmds;
}
