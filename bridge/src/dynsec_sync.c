/* dynsec_sync.c - see dynsec_sync.h. */
#include "dynsec_sync.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "health.h"
#include "log.h"
#include "mqtt_link.h"
#include "topics.h"

#define MANAGED_TEXTNAME "kitchen-bus"
#define ROLE_PREFIX "kb-"
#define MAX_ACLS 16
#define COMMANDS_PER_MESSAGE 100

typedef struct {
    const char *type;
    char topic[TOPIC_MAX];
} acl;

static void add_acl(acl *acls, int *n, const char *type, const char *topic)
{
    if (*n >= MAX_ACLS) return;
    acls[*n].type = type;
    snprintf(acls[*n].topic, sizeof acls[*n].topic, "%s", topic);
    (*n)++;
}

static void add_read(acl *acls, int *n, const char *topic)
{
    add_acl(acls, n, "subscribePattern", topic);
    add_acl(acls, n, "publishClientReceive", topic);
}

/* The complete ACL list of one device's role. */
static int device_acls(const registry *r, const registry_device *d, acl *acls)
{
    int n = 0;
    char topic[TOPIC_MAX];
    if (d->role == DEVICE_ADMIN) {
        add_read(acls, &n, "outlet/#");
        return n;
    }
    const char *t = r->tenants[d->tenant].id;
    topic_device_in(topic, sizeof topic, t, d->role, d->username);
    add_acl(acls, &n, "publishClientSend", topic);
    topic_ack(topic, sizeof topic, t, d->role, d->username);
    add_read(acls, &n, topic);
    topic_order(topic, sizeof topic, t, "+");
    add_read(acls, &n, topic);
    topic_events(topic, sizeof topic, t);
    add_read(acls, &n, topic);
    topic_device_info(topic, sizeof topic, d->username);
    add_read(acls, &n, topic);
    add_read(acls, &n, TOPIC_HEALTH);
    return n;
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

/* Sends `cmds` (taken) in messages of at most COMMANDS_PER_MESSAGE, so a
 * large registry stays under the broker's message_size_limit. */
static void send_commands(bridge *b, cJSON *cmds)
{
    while (cJSON_GetArraySize(cmds) > 0) {
        cJSON *chunk = cJSON_CreateArray();
        for (int i = 0; i < COMMANDS_PER_MESSAGE && cmds->child; i++)
            cJSON_AddItemToArray(chunk, cJSON_DetachItemFromArray(cmds, 0));
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "commands", chunk);
        char *text = cJSON_PrintUnformatted(doc);
        if (text) mqtt_link_publish(b, TOPIC_DYNSEC, text, strlen(text), 0, NULL);
        else log_error("out of memory sending broker access commands");
        free(text);
        cJSON_Delete(doc);
    }
    cJSON_Delete(cmds);
}

void dynsec_sync_start(bridge *b)
{
    b->access_synced = 0;
    cJSON *cmds = cJSON_CreateArray();
    cJSON_AddBoolToObject(command(cmds, "listClients"), "verbose", 1);
    cJSON_AddBoolToObject(command(cmds, "listRoles"), "verbose", 1);
    send_commands(b, cmds);
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
static void sync_role(cJSON *cmds, const cJSON *roles, const char *name, const acl *acls, int n)
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
    const cJSON *have_acls = have ? cJSON_GetObjectItemCaseSensitive(have, "acls") : NULL;
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
static void sync_client(bridge *b, cJSON *cmds, const cJSON *clients, const registry_device *d, const char *role)
{
    const cJSON *have = find_named(clients, "username", d->username);
    if (!have) {
        cJSON *c = command(cmds, "createClient");
        cJSON_AddStringToObject(c, "username", d->username);
        if (b->registry->demo) cJSON_AddStringToObject(c, "password", d->username);
        else log_warn("device %s has no password yet; run `kitchen-bus set-password %s`", d->username, d->username);
        cJSON_AddStringToObject(c, "textname", MANAGED_TEXTNAME);
        cJSON *roles = cJSON_AddArrayToObject(c, "roles");
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "rolename", role);
        cJSON_AddItemToArray(roles, r);
        return;
    }
    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(have, "roles");
    if (!find_named(roles, "rolename", role)) client_role_command(cmds, "addClientRole", d->username, role);
    const cJSON *r;
    cJSON_ArrayForEach(r, roles) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(r, "rolename");
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

static void publish_device_info(bridge *b, const registry_device *d)
{
    char topic[TOPIC_MAX];
    topic_device_info(topic, sizeof topic, d->username);
    cJSON *info = cJSON_CreateObject();
    cJSON_AddStringToObject(info, "device", d->username);
    cJSON_AddStringToObject(info, "role", device_role_name(d->role));
    if (d->tenant >= 0) {
        cJSON_AddStringToObject(info, "tenant", b->registry->tenants[d->tenant].id);
        cJSON_AddStringToObject(info, "tenant_name", b->registry->tenants[d->tenant].name);
    }
    cJSON_AddStringToObject(info, "outlet", b->registry->outlet_id);
    cJSON_AddStringToObject(info, "outlet_name", b->registry->outlet_name);
    char *text = cJSON_PrintUnformatted(info);
    if (text) mqtt_link_publish(b, topic, text, strlen(text), 1, NULL);
    free(text);
    cJSON_Delete(info);
}

static void apply_diff(bridge *b, const cJSON *clients, const cJSON *roles)
{
    const registry *r = b->registry;
    cJSON *cmds = cJSON_CreateArray();
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

    /* The bridge writes outlet/#. `kitchen-bus broker-init` grants that in
     * the store it creates; granting it live kicks the bridge once (Mosquitto
     * 2.0.11 disconnects every client of a role whose ACLs change). */
    const cJSON *me = find_named(clients, "username", b->config.bridge_user);
    const cJSON *my_role = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(me, "roles"), 0);
    const cJSON *my_role_name = cJSON_GetObjectItemCaseSensitive(my_role, "rolename");
    if (cJSON_IsString(my_role_name)) {
        const cJSON *r_have = find_named(roles, "rolename", my_role_name->valuestring);
        if (!acl_present(cJSON_GetObjectItemCaseSensitive(r_have, "acls"), "publishClientSend", "outlet/#")) {
            log_warn("granting the bridge write access to outlet/# (it will reconnect once)");
            acl_command(cmds, "addRoleACL", my_role_name->valuestring, "publishClientSend", "outlet/#");
        }
    } else {
        log_error("the bridge's broker account %s has no role; it cannot publish", b->config.bridge_user);
    }

    acl acls[MAX_ACLS];
    int n;
    char role[64];
    for (size_t i = 0; i < r->n_devices; i++) {
        role_name(role, sizeof role, r->devices[i].username);
        n = device_acls(r, &r->devices[i], acls);
        sync_role(cmds, roles, role, acls, n);
        sync_client(b, cmds, clients, &r->devices[i], role);
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, clients) {
        const cJSON *user = cJSON_GetObjectItemCaseSensitive(c, "username");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "textname");
        if (cJSON_IsString(user) && cJSON_IsString(text) && strcmp(text->valuestring, MANAGED_TEXTNAME) == 0 &&
            !registry_find_device(r, user->valuestring)) {
            log_info("removing device %s: no longer in the registry", user->valuestring);
            cJSON_AddStringToObject(command(cmds, "deleteClient"), "username", user->valuestring);
        }
    }
    cJSON_ArrayForEach(c, roles) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "rolename");
        if (cJSON_IsString(name) && strncmp(name->valuestring, ROLE_PREFIX, strlen(ROLE_PREFIX)) == 0 &&
            !role_wanted(r, name->valuestring))
            cJSON_AddStringToObject(command(cmds, "deleteRole"), "rolename", name->valuestring);
    }
    int changes = cJSON_GetArraySize(cmds) - 1;
    send_commands(b, cmds);
    log_info("broker access synced with the registry (%d change%s, %zu devices)", changes,
             changes == 1 ? "" : "s", r->n_devices);
    b->access_synced = 1;
    for (size_t i = 0; i < r->n_devices; i++) publish_device_info(b, &r->devices[i]);
    /* The first health publish of a fresh broker precedes the bridge's
     * write right; this one follows it. */
    health_publish(b);
}

void dynsec_sync_on_response(bridge *b, const void *payload, size_t len)
{
    cJSON *doc = json_parse_exact(payload, len);
    const cJSON *responses = cJSON_GetObjectItemCaseSensitive(doc, "responses");
    const cJSON *clients = NULL, *roles = NULL, *resp;
    cJSON_ArrayForEach(resp, responses) {
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(resp, "command");
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(resp, "error");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(resp, "data");
        if (!cJSON_IsString(cmd)) continue;
        if (cJSON_IsString(err))
            log_error("broker access command %s failed: %s", cmd->valuestring, err->valuestring);
        else if (strcmp(cmd->valuestring, "listClients") == 0)
            clients = cJSON_GetObjectItemCaseSensitive(data, "clients");
        else if (strcmp(cmd->valuestring, "listRoles") == 0)
            roles = cJSON_GetObjectItemCaseSensitive(data, "roles");
    }
    if (cJSON_IsArray(clients) && cJSON_IsArray(roles)) apply_diff(b, clients, roles);
    cJSON_Delete(doc);
}

void dynsec_sync_forget_removed(bridge *b, const registry *old)
{
    char topic[TOPIC_MAX];
    for (size_t i = 0; i < old->n_devices; i++) {
        if (registry_find_device(b->registry, old->devices[i].username)) continue;
        topic_device_info(topic, sizeof topic, old->devices[i].username);
        mqtt_link_publish(b, topic, NULL, 0, 1, NULL);
    }
}
