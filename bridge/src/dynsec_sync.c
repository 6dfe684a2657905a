/* dynsec_sync.c - see dynsec_sync.h. */
#include "dynsec_sync.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynsec_plan.h"
#include "json_util.h"
#include "health.h"
#include "log.h"
#include "mqtt_link.h"
#include "topics.h"

#define COMMANDS_PER_MESSAGE 100

static cJSON *command(cJSON *cmds, const char *name)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "command", name);
    cJSON_AddItemToArray(cmds, c);
    return c;
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

static void log_note(void *ctx, dynsec_note what, const char *name)
{
    (void)ctx;
    switch (what) {
    case DYNSEC_NOTE_NO_PASSWORD:
        log_warn("device %s has no password yet; run `kitchen-bus set-password %s`", name, name);
        break;
    case DYNSEC_NOTE_REMOVED: log_info("removing device %s: no longer in the registry", name); break;
    case DYNSEC_NOTE_GRANT_BRIDGE:
        log_warn("granting the bridge write access to outlet/# (it will reconnect once)");
        break;
    case DYNSEC_NOTE_BRIDGE_NO_ROLE:
        log_error("the bridge's broker account %s has no role; it cannot publish", name);
        break;
    }
}

static void apply_diff(bridge *b, const cJSON *clients, const cJSON *roles)
{
    const registry *r = b->registry;
    int changes = 0;
    cJSON *cmds = dynsec_plan(r, b->config.bridge_user, clients, roles, &changes, log_note, NULL);
    if (!cmds) {
        log_error("out of memory planning broker access; retried at the next connect or reload");
        return;
    }
    send_commands(b, cmds);
    log_info("broker access synced with the registry (%d change%s, %zu devices)", changes,
             changes == 1 ? "" : "s", r->n_devices);
    b->access_synced = 1;
    for (size_t i = 0; i < r->n_devices; i++) publish_device_info(b, &r->devices[i]);
    /* The first health publish of a fresh broker precedes the bridge's
     * write right; this one follows it. */
    health_changed(b);
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
