/* dynsec_plan_test.c - the registry-to-broker diff (dynsec_plan.c) on
 * made-up broker states: a fresh broker, one already in step, roles and
 * clients that drifted, devices gone from the registry, clients the bridge
 * does not manage, and the bridge's own write right. */
#include <stdlib.h>
#include <string.h>

#include "dynsec_plan.h"

#include "check.h"

static registry *load(const char *json)
{
    registry *r = NULL;
    char err[256];
    CHECK(registry_parse(json, strlen(json), &r, err, sizeof err) == 0);
    return r;
}

static const char demo[] = "{\"outlet\":{\"id\":\"o\"},\"demo\":true,\"tenants\":[{\"id\":\"pizza\",\"devices\":["
                           "{\"username\":\"pizza-pos\",\"role\":\"pos\"},{\"username\":\"pizza-kitchen\",\"role\":\"kitchen\"}]}],"
                           "\"admins\":[{\"username\":\"admin\"}]}";

/* The bridge as broker-init leaves it: its own client and admin role, with outlet/#. */
static const char bridge_clients[] = "[{\"username\":\"kb-bridge\",\"roles\":[{\"rolename\":\"admin\"}]}]";
static const char bridge_roles[] = "[{\"rolename\":\"admin\",\"acls\":[{\"acltype\":\"publishClientSend\","
                                   "\"topic\":\"outlet/#\",\"allow\":true}]}]";

static int matches(const cJSON *c, const char *name, const char *key, const char *value)
{
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(c, "command");
    const cJSON *v = key ? cJSON_GetObjectItemCaseSensitive(c, key) : NULL;
    return cJSON_IsString(cmd) && strcmp(cmd->valuestring, name) == 0 &&
           (!key || (cJSON_IsString(v) && strcmp(v->valuestring, value) == 0));
}

/* How many commands `name` the plan has (with key = value, if key is given). */
static int count(const cJSON *cmds, const char *name, const char *key, const char *value)
{
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cmds) n += matches(c, name, key, value);
    return n;
}

/* The first such command, or NULL. */
static const cJSON *find(const cJSON *cmds, const char *name, const char *key, const char *value)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cmds) if (matches(c, name, key, value)) return c;
    return NULL;
}

static int notes[4];
static void note(void *ctx, dynsec_note what, const char *name)
{
    (void)ctx;
    (void)name;
    notes[what]++;
}

static cJSON *plan(const registry *r, const char *clients, const char *roles, int *changes)
{
    cJSON *c = cJSON_Parse(clients), *ro = cJSON_Parse(roles);
    memset(notes, 0, sizeof notes);
    cJSON *cmds = dynsec_plan(r, "kb-bridge", c, ro, changes, note, NULL);
    cJSON_Delete(c);
    cJSON_Delete(ro);
    return cmds;
}

/* Applies createRole/createClient of a plan to a broker state, as the
 * plugin would, so a second plan can be checked for being empty. */
static char *applied(const char *state, const cJSON *cmds, const char *create, const char *key)
{
    cJSON *list = cJSON_Parse(state);
    const cJSON *c;
    cJSON_ArrayForEach(c, cmds) {
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(c, "command");
        if (!cJSON_IsString(cmd) || strcmp(cmd->valuestring, create) != 0) continue;
        cJSON *copy = cJSON_Duplicate(c, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "command");
        CHECK(cJSON_GetObjectItemCaseSensitive(copy, key) != NULL);
        if (strcmp(create, "createClient") == 0) cJSON_DeleteItemFromObjectCaseSensitive(copy, "password");
        cJSON_AddItemToArray(list, copy);
    }
    char *text = cJSON_PrintUnformatted(list);
    cJSON_Delete(list);
    return text;
}

static void test_fresh_broker_then_in_step(void)
{
    registry *r = load(demo);
    int changes = -1;
    cJSON *cmds = plan(r, bridge_clients, bridge_roles, &changes);
    CHECK(cmds && changes == 6);
    CHECK(count(cmds, "setDefaultACLAccess", NULL, NULL) == 1);
    CHECK(count(cmds, "createRole", "rolename", "kb-dev-pizza-pos") == 1);
    CHECK(count(cmds, "createClient", "username", "pizza-kitchen") == 1);
    CHECK(count(cmds, "createClient", "username", "admin") == 1);
    CHECK(count(cmds, "addRoleACL", NULL, NULL) == 0 && notes[DYNSEC_NOTE_GRANT_BRIDGE] == 0);
    CHECK(notes[DYNSEC_NOTE_NO_PASSWORD] == 0); /* demo: password = username */
    /* The POS's role: it sends on its submit topic and reads its ack, its
     * tenant's orders and events, its info and the health; nothing else. */
    const cJSON *role = find(cmds, "createRole", "rolename", "kb-dev-pizza-pos"), *c;
    const cJSON *acls = cJSON_GetObjectItemCaseSensitive(role, "acls");
    CHECK(cJSON_GetArraySize(acls) == 11);
    int sends = 0, other_tenant = 0;
    cJSON_ArrayForEach(c, acls) {
        const char *type = cJSON_GetObjectItemCaseSensitive(c, "acltype")->valuestring;
        const char *topic = cJSON_GetObjectItemCaseSensitive(c, "topic")->valuestring;
        if (strcmp(type, "publishClientSend") == 0) {
            sends++;
            CHECK(strcmp(topic, "outlet/tenant/pizza/pos/pizza-pos/submit") == 0);
        }
        if (strstr(topic, "outlet/tenant/") && !strstr(topic, "outlet/tenant/pizza/")) other_tenant++;
    }
    CHECK(sends == 1 && other_tenant == 0);

    /* The broker after that plan: a second plan changes nothing. */
    char *clients = applied(bridge_clients, cmds, "createClient", "username");
    char *roles = applied(bridge_roles, cmds, "createRole", "rolename");
    cJSON_Delete(cmds);
    cmds = plan(r, clients, roles, &changes);
    CHECK(cmds && changes == 0 && cJSON_GetArraySize(cmds) == 1);
    cJSON_Delete(cmds);

    /* Production: a new device is created without a password, and said so. */
    registry *prod = load("{\"outlet\":{\"id\":\"o\"},\"tenants\":[{\"id\":\"pizza\",\"devices\":["
                          "{\"username\":\"pizza-pos\",\"role\":\"pos\"},{\"username\":\"till-2\",\"role\":\"pos\"}]}]}");
    cmds = plan(prod, clients, roles, &changes);
    CHECK(count(cmds, "createClient", "username", "till-2") == 1 && notes[DYNSEC_NOTE_NO_PASSWORD] == 1);
    const cJSON *created = find(cmds, "createClient", "username", "till-2");
    CHECK(created && !cJSON_GetObjectItemCaseSensitive(created, "password"));
    /* pizza-kitchen and admin left the registry: their clients and roles go. */
    CHECK(count(cmds, "deleteClient", "username", "pizza-kitchen") == 1);
    CHECK(count(cmds, "deleteClient", "username", "admin") == 1 && notes[DYNSEC_NOTE_REMOVED] == 2);
    CHECK(count(cmds, "deleteRole", "rolename", "kb-dev-pizza-kitchen") == 1);
    CHECK(count(cmds, "deleteClient", "username", "kb-bridge") == 0 && count(cmds, "deleteRole", "rolename", "admin") == 0);
    cJSON_Delete(cmds);
    free(clients);
    free(roles);
    registry_free(prod);
    registry_free(r);
}

static void test_drift(void)
{
    registry *r = load(demo);
    /* The bridge lost outlet/#; pizza-pos's role has a stray ACL and lacks
     * the others; pizza-pos has a second role; an unmanaged client stays. */
    const char *clients = "[{\"username\":\"kb-bridge\",\"roles\":[{\"rolename\":\"admin\"}]},"
                          "{\"username\":\"pizza-pos\",\"textname\":\"kitchen-bus\",\"roles\":[{\"rolename\":\"kb-dev-pizza-pos\"},"
                          "{\"rolename\":\"kb-dev-burger-pos\"}]},"
                          "{\"username\":\"someone\",\"textname\":\"theirs\",\"roles\":[]}]";
    const char *roles = "[{\"rolename\":\"admin\",\"acls\":[]},"
                        "{\"rolename\":\"kb-dev-pizza-pos\",\"acls\":[{\"acltype\":\"subscribePattern\","
                        "\"topic\":\"outlet/tenant/burger/orders/+\",\"allow\":true}]},"
                        "{\"rolename\":\"kb-dev-burger-pos\",\"acls\":[]}]";
    int changes = 0;
    cJSON *cmds = plan(r, clients, roles, &changes);
    CHECK(notes[DYNSEC_NOTE_GRANT_BRIDGE] == 1);
    CHECK(count(cmds, "addRoleACL", "rolename", "admin") == 1);
    CHECK(count(cmds, "removeRoleACL", "topic", "outlet/tenant/burger/orders/+") == 1);
    CHECK(count(cmds, "addRoleACL", "rolename", "kb-dev-pizza-pos") == 11);
    CHECK(count(cmds, "createRole", "rolename", "kb-dev-pizza-pos") == 0 && count(cmds, "createClient", "username", "pizza-pos") == 0);
    CHECK(count(cmds, "removeClientRole", "rolename", "kb-dev-burger-pos") == 1);
    CHECK(count(cmds, "deleteRole", "rolename", "kb-dev-burger-pos") == 1);
    CHECK(count(cmds, "deleteClient", "username", "someone") == 0);
    cJSON_Delete(cmds);
    /* A bridge account with no role is said, and nothing is granted to it. */
    cmds = plan(r, "[{\"username\":\"kb-bridge\",\"roles\":[]}]", "[]", &changes);
    CHECK(notes[DYNSEC_NOTE_BRIDGE_NO_ROLE] == 1 && notes[DYNSEC_NOTE_GRANT_BRIDGE] == 0);
    cJSON_Delete(cmds);
    registry_free(r);
}

int main(void)
{
    test_fresh_broker_then_in_step();
    test_drift();
    return check_report();
}
