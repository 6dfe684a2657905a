/* dynsec_sync.c - see dynsec_sync.h. */
#include "dynsec_sync.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dynsec_plan.h"
#include "json_util.h"
#include "log.h"
#include "secret.h"
#include "topics.h"

#define COMMANDS_PER_MESSAGE 100
#define CALLS_MAX 16
#define CALL_PREFIX "kb-call-"

/* A dynsec_sync_call waiting for its answers. */
typedef struct {
    unsigned serial; /* 0: free */
    int remaining;
    char error[160];
    double started_ms;
    dynsec_done_fn done;
    void *ctx;
    uint32_t token;
} dynsec_call;

struct dynsec_sync {
    mqtt_link *link;
    registry *const *registry;
    const char *bridge_user;
    kb_status *status;
    dynsec_call calls[CALLS_MAX];
    unsigned next_serial;
};

static cJSON *command(cJSON *cmds, const char *name)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "command", name);
    cJSON_AddItemToArray(cmds, c);
    return c;
}

/* Sends `cmds` (taken) in messages of at most COMMANDS_PER_MESSAGE, so a
 * large registry stays under the broker's message_size_limit. */
static void send_commands(dynsec_sync *d, cJSON *cmds)
{
    while (cJSON_GetArraySize(cmds) > 0) {
        cJSON *chunk = cJSON_CreateArray();
        for (int i = 0; i < COMMANDS_PER_MESSAGE && cmds->child; i++)
            cJSON_AddItemToArray(chunk, cJSON_DetachItemFromArray(cmds, 0));
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "commands", chunk);
        char *text = cJSON_PrintUnformatted(doc);
        if (text) mqtt_link_publish(d->link, TOPIC_DYNSEC, text, strlen(text), 0, NULL);
        else log_error("out of memory sending broker access commands");
        free(text);
        cJSON_Delete(doc);
    }
    cJSON_Delete(cmds);
}

void dynsec_sync_start(void *ctx)
{
    dynsec_sync *d = ctx;
    status_set_access(d->status, 0);
    cJSON *cmds = cJSON_CreateArray();
    cJSON_AddBoolToObject(command(cmds, "listClients"), "verbose", 1);
    cJSON_AddBoolToObject(command(cmds, "listRoles"), "verbose", 1);
    send_commands(d, cmds);
}

static void publish_device_info(dynsec_sync *ds, const registry *r, const registry_device *d)
{
    char topic[TOPIC_MAX];
    topic_device_info(topic, sizeof topic, d->username);
    cJSON *info = cJSON_CreateObject();
    cJSON_AddStringToObject(info, "device", d->username);
    cJSON_AddStringToObject(info, "role", device_role_name(d->role));
    const registry_tenant *t = registry_tenant_of(r, d);
    if (t) {
        cJSON_AddStringToObject(info, "tenant", t->id);
        cJSON_AddStringToObject(info, "tenant_name", t->name);
        cJSON *stations = cJSON_AddArrayToObject(info, "stations");
        for (int i = 0; i < t->n_stations; i++) cJSON_AddItemToArray(stations, cJSON_CreateString(t->stations[i]));
    }
    const char *station = registry_device_station(r, d);
    if (station) cJSON_AddStringToObject(info, "station", station);
    if (d->role == DEVICE_BOARD) {
        cJSON *shows = cJSON_AddArrayToObject(info, "tenants");
        for (size_t i = 0; i < r->n_tenants; i++) {
            if (!registry_board_shows(d, (int)i)) continue;
            cJSON *one = cJSON_CreateObject();
            cJSON_AddStringToObject(one, "id", r->tenants[i].id);
            cJSON_AddStringToObject(one, "name", r->tenants[i].name);
            cJSON_AddItemToArray(shows, one);
        }
    }
    cJSON_AddStringToObject(info, "outlet", r->outlet_id);
    cJSON_AddStringToObject(info, "outlet_name", r->outlet_name);
    char *text = cJSON_PrintUnformatted(info);
    if (text) mqtt_link_publish(ds->link, topic, text, strlen(text), 1, NULL);
    free(text);
    cJSON_Delete(info);
}

static void log_note(void *ctx, dynsec_note what, const char *name)
{
    (void)ctx;
    switch (what) {
    case DYNSEC_NOTE_NO_PASSWORD:
        log_warn("device %s has no password yet: pair its tablet from /admin, or run `kitchen-bus set-password %s`",
                 name, name);
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

static void apply_diff(dynsec_sync *d, const cJSON *clients, const cJSON *roles)
{
    const registry *r = *d->registry;
    int changes = 0;
    cJSON *cmds = dynsec_plan(r, d->bridge_user, clients, roles, &changes, log_note, NULL);
    if (!cmds) {
        log_error("out of memory planning broker access; retried at the next connect or reload");
        return;
    }
    send_commands(d, cmds);
    log_info("broker access synced with the registry (%d change%s, %zu devices)", changes,
             changes == 1 ? "" : "s", r->n_devices);
    for (size_t i = 0; i < r->n_devices; i++) publish_device_info(d, r, &r->devices[i]);
    /* Health changes with it: its publish after this one follows the
     * bridge's write right, which a fresh broker's first one preceded. */
    status_set_access(d->status, 1);
}

int dynsec_sync_call(dynsec_sync *d, cJSON *cmds, dynsec_done_fn done, void *ctx, uint32_t token)
{
    dynsec_call *call = NULL;
    for (int i = 0; i < CALLS_MAX && !call; i++)
        if (!d->calls[i].serial) call = &d->calls[i];
    int n = cJSON_GetArraySize(cmds);
    if (!call || n == 0 || n > COMMANDS_PER_MESSAGE || !mqtt_link_connected(d->link)) {
        cJSON_Delete(cmds);
        return -1;
    }
    unsigned serial = ++d->next_serial ? d->next_serial : ++d->next_serial;
    char corr[48];
    cJSON *c;
    cJSON_ArrayForEach(c, cmds) {
        snprintf(corr, sizeof corr, CALL_PREFIX "%u", serial);
        cJSON_DeleteItemFromObjectCaseSensitive(c, "correlationData");
        cJSON_AddStringToObject(c, "correlationData", corr);
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "commands", cmds);
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    int rc = text ? mqtt_link_publish(d->link, TOPIC_DYNSEC, text, strlen(text), 0, NULL) : -1;
    if (text) {
        secret_wipe(text, strlen(text)); /* it may hold a password */
        free(text);
    }
    if (rc != 0) return -1;
    *call = (dynsec_call){serial, n, "", kb_now_ms(), done, ctx, token};
    return 0;
}

static void finish_call(dynsec_call *call, const char *error)
{
    dynsec_call done = *call;
    memset(call, 0, sizeof *call);
    done.done(done.ctx, done.token, error);
}

void dynsec_sync_tick(dynsec_sync *d)
{
    double now = kb_now_ms();
    for (int i = 0; i < CALLS_MAX; i++)
        if (d->calls[i].serial && now - d->calls[i].started_ms > DYNSEC_CALL_TIMEOUT_MS)
            finish_call(&d->calls[i], "the broker did not answer");
}

/* One answer to a command of a dynsec_sync_call. */
static void call_answered(dynsec_sync *d, const char *corr, const char *error)
{
    unsigned serial = (unsigned)strtoul(corr + strlen(CALL_PREFIX), NULL, 10);
    for (int i = 0; i < CALLS_MAX; i++) {
        dynsec_call *call = &d->calls[i];
        if (!serial || call->serial != serial) continue;
        if (error && !call->error[0]) snprintf(call->error, sizeof call->error, "%s", error);
        if (--call->remaining <= 0) finish_call(call, call->error[0] ? call->error : NULL);
        return;
    }
}

static void on_response(void *ctx, const char *topic, const void *payload, size_t len, int retained)
{
    (void)topic;
    (void)retained;
    dynsec_sync *d = ctx;
    cJSON *doc = json_parse_exact(payload, len);
    const cJSON *responses = cJSON_GetObjectItemCaseSensitive(doc, "responses");
    const cJSON *clients = NULL, *roles = NULL, *resp;
    cJSON_ArrayForEach(resp, responses) {
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(resp, "command");
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(resp, "error");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(resp, "data");
        const cJSON *corr = cJSON_GetObjectItemCaseSensitive(resp, "correlationData");
        if (!cJSON_IsString(cmd)) continue;
        if (cJSON_IsString(corr) && strncmp(corr->valuestring, CALL_PREFIX, strlen(CALL_PREFIX)) == 0)
            call_answered(d, corr->valuestring, cJSON_IsString(err) ? err->valuestring : NULL);
        else if (cJSON_IsString(err))
            log_error("broker access command %s failed: %s", cmd->valuestring, err->valuestring);
        else if (strcmp(cmd->valuestring, "listClients") == 0)
            clients = cJSON_GetObjectItemCaseSensitive(data, "clients");
        else if (strcmp(cmd->valuestring, "listRoles") == 0)
            roles = cJSON_GetObjectItemCaseSensitive(data, "roles");
    }
    if (cJSON_IsArray(clients) && cJSON_IsArray(roles)) apply_diff(d, clients, roles);
    cJSON_Delete(doc);
}

void dynsec_sync_forget_removed(dynsec_sync *d, const registry *old)
{
    char topic[TOPIC_MAX];
    for (size_t i = 0; i < old->n_devices; i++) {
        if (registry_find_device(*d->registry, old->devices[i].username)) continue;
        topic_device_info(topic, sizeof topic, old->devices[i].username);
        mqtt_link_publish(d->link, topic, NULL, 0, 1, NULL);
    }
}

dynsec_sync *dynsec_sync_new(mqtt_link *link, registry *const *reg, const char *bridge_user, kb_status *status)
{
    dynsec_sync *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->link = link;
    d->registry = reg;
    d->bridge_user = bridge_user;
    d->status = status;
    if (mqtt_link_route(link, TOPIC_DYNSEC_RESPONSE, 0, on_response, d) != 0) {
        free(d);
        return NULL;
    }
    return d;
}

void dynsec_sync_free(dynsec_sync *d) { free(d); }
