/* dynsec_plan_test.c - the registry-to-broker diff (dynsec_plan.c) on
 * made-up broker states: a fresh broker, one already in step, roles and
 * clients that drifted, devices gone from the registry, clients the bridge
 * does not manage, and the bridge's own write right; the roles of a
 * station-bound kitchen, an expo and boards (issue 14). */
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
    /* The POS's role: it sends on its submit topic and its own presence, and
     * reads its ack, its tenant's orders, events and presence, its info and
     * the health; nothing else. */
    const cJSON *role = find(cmds, "createRole", "rolename", "kb-dev-pizza-pos"), *c;
    const cJSON *acls = cJSON_GetObjectItemCaseSensitive(role, "acls");
    CHECK(cJSON_GetArraySize(acls) == 14);
    int sends = 0, other_tenant = 0;
    cJSON_ArrayForEach(c, acls) {
        const char *type = cJSON_GetObjectItemCaseSensitive(c, "acltype")->valuestring;
        const char *topic = cJSON_GetObjectItemCaseSensitive(c, "topic")->valuestring;
        if (strcmp(type, "publishClientSend") == 0) {
            sends++;
            CHECK(strcmp(topic, "outlet/tenant/pizza/pos/pizza-pos/submit") == 0 ||
                  strcmp(topic, "outlet/tenant/pizza/pos/pizza-pos/presence") == 0);
        }
        if (strstr(topic, "outlet/tenant/") && !strstr(topic, "outlet/tenant/pizza/")) other_tenant++;
    }
    CHECK(sends == 2 && other_tenant == 0);
    int presence_reads = 0;
    cJSON_ArrayForEach(c, acls) {
        const char *topic = cJSON_GetObjectItemCaseSensitive(c, "topic")->valuestring;
        presence_reads += strcmp(topic, "outlet/tenant/pizza/+/+/presence") == 0;
    }
    CHECK(presence_reads == 2); /* subscribePattern and publishClientReceive */

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
    CHECK(count(cmds, "addRoleACL", "rolename", "kb-dev-pizza-pos") == 14);
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

/* The ACL list of `rolename` in a fresh broker's plan, NULL if none. */
static const cJSON *role_acls(const cJSON *cmds, const char *rolename)
{
    return cJSON_GetObjectItemCaseSensitive(find(cmds, "createRole", "rolename", rolename), "acls");
}

static int has_acl(const cJSON *acls, const char *type, const char *topic)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, acls) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "acltype");
        const cJSON *tp = cJSON_GetObjectItemCaseSensitive(a, "topic");
        if (cJSON_IsString(t) && cJSON_IsString(tp) && strcmp(t->valuestring, type) == 0 &&
            strcmp(tp->valuestring, topic) == 0 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "allow")))
            return 1;
    }
    return 0;
}

/* Both read rights (subscribe and receive) on topic. */
static int reads(const cJSON *acls, const char *topic)
{
    return has_acl(acls, "subscribePattern", topic) && has_acl(acls, "publishClientReceive", topic);
}

/* How many of the role's ACLs have a topic starting with prefix, of any type. */
static int topics_under(const cJSON *acls, const char *prefix)
{
    int n = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, acls) {
        const cJSON *tp = cJSON_GetObjectItemCaseSensitive(a, "topic");
        n += cJSON_IsString(tp) && strncmp(tp->valuestring, prefix, strlen(prefix)) == 0;
    }
    return n;
}

static int count_type(const cJSON *acls, const char *type)
{
    int n = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, acls) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "acltype");
        n += cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
    }
    return n;
}

static const char stations_registry[] =
    "{\"outlet\":{\"id\":\"o\"},\"demo\":true,\"tenants\":["
    "{\"id\":\"pizza\",\"stations\":[\"oven\",\"cold\",\"bar\"],\"devices\":["
    "{\"username\":\"pizza-kitchen\",\"role\":\"kitchen\"},"
    "{\"username\":\"pizza-oven\",\"role\":\"kitchen\",\"station\":\"oven\"},"
    "{\"username\":\"pizza-bar\",\"role\":\"kitchen\",\"station\":\"bar\"},"
    "{\"username\":\"pizza-expo\",\"role\":\"expo\"}]},"
    "{\"id\":\"burger\",\"devices\":[{\"username\":\"burger-pos\",\"role\":\"pos\"}]},"
    "{\"id\":\"noodle\"}],"
    "\"boards\":[{\"username\":\"court-board\",\"tenants\":\"*\"},"
    "{\"username\":\"pair-board\",\"tenants\":[\"noodle\",\"pizza\"]}]}";

static void test_station_expo_board_roles(void)
{
    registry *r = load(stations_registry);
    if (!r) return;
    int changes = -1;
    cJSON *cmds = plan(r, bridge_clients, bridge_roles, &changes);
    CHECK(cmds && changes == 14); /* 7 devices: a role and a client each */

    /* A station screen: sends its status and its presence, reads its ack,
     * its info, the health, its tenant's presence and its station's views of
     * its tenant; never the whole orders, the events, another station or
     * another tenant. */
    const cJSON *oven = role_acls(cmds, "kb-dev-pizza-oven");
    CHECK(cJSON_GetArraySize(oven) == 12);
    CHECK(has_acl(oven, "publishClientSend", "outlet/tenant/pizza/kitchen/pizza-oven/status"));
    CHECK(has_acl(oven, "publishClientSend", "outlet/tenant/pizza/kitchen/pizza-oven/presence"));
    CHECK(count_type(oven, "publishClientSend") == 2 && reads(oven, "outlet/tenant/pizza/+/+/presence"));
    CHECK(reads(oven, "outlet/tenant/pizza/kitchen/pizza-oven/ack"));
    CHECK(reads(oven, "outlet/device/pizza-oven/info") && reads(oven, "outlet/bridge/health"));
    CHECK(reads(oven, "outlet/tenant/pizza/stations/oven/orders/+"));
    CHECK(topics_under(oven, "outlet/tenant/pizza/orders") == 0 && topics_under(oven, "outlet/tenant/pizza/events") == 0);
    CHECK(topics_under(oven, "outlet/tenant/pizza/stations/") == 2);
    CHECK(topics_under(oven, "outlet/board") == 0 && topics_under(oven, "outlet/tenant/burger") == 0);
    const cJSON *bar = role_acls(cmds, "kb-dev-pizza-bar");
    CHECK(cJSON_GetArraySize(bar) == 12 && reads(bar, "outlet/tenant/pizza/stations/bar/orders/+"));
    CHECK(!has_acl(bar, "subscribePattern", "outlet/tenant/pizza/stations/oven/orders/+"));

    /* An unbound kitchen keeps the whole-order topics, as before. */
    const cJSON *kitchen = role_acls(cmds, "kb-dev-pizza-kitchen");
    CHECK(cJSON_GetArraySize(kitchen) == 14 && reads(kitchen, "outlet/tenant/pizza/orders/+") &&
          reads(kitchen, "outlet/tenant/pizza/events") && topics_under(kitchen, "outlet/tenant/pizza/stations/") == 0);

    /* The expo: like a whole-order kitchen, on its own expo topics. */
    const cJSON *expo = role_acls(cmds, "kb-dev-pizza-expo");
    CHECK(cJSON_GetArraySize(expo) == 14);
    CHECK(has_acl(expo, "publishClientSend", "outlet/tenant/pizza/expo/pizza-expo/status") &&
          has_acl(expo, "publishClientSend", "outlet/tenant/pizza/expo/pizza-expo/presence") &&
          count_type(expo, "publishClientSend") == 2);
    CHECK(reads(expo, "outlet/tenant/pizza/expo/pizza-expo/ack"));
    CHECK(reads(expo, "outlet/tenant/pizza/orders/+") && reads(expo, "outlet/tenant/pizza/events"));
    CHECK(reads(expo, "outlet/device/pizza-expo/info") && reads(expo, "outlet/bridge/health"));
    CHECK(topics_under(expo, "outlet/tenant/pizza/kitchen/") == 0 && topics_under(expo, "outlet/tenant/pizza/stations/") == 0);
    CHECK(topics_under(expo, "outlet/board") == 0 && topics_under(expo, "outlet/tenant/burger") == 0);

    /* A board for every tenant: its info, the health and each tenant's
     * board document; it sends only its presence and reads no tenant topic. */
    const cJSON *court = role_acls(cmds, "kb-dev-court-board");
    CHECK(cJSON_GetArraySize(court) == 5 + 2 * 3);
    CHECK(has_acl(court, "publishClientSend", "outlet/board/court-board/presence"));
    CHECK(reads(court, "outlet/device/court-board/info") && reads(court, "outlet/bridge/health"));
    CHECK(reads(court, "outlet/board/pizza") && reads(court, "outlet/board/burger") && reads(court, "outlet/board/noodle"));
    CHECK(count_type(court, "publishClientSend") == 1 && topics_under(court, "outlet/tenant/") == 0);
    CHECK(!has_acl(court, "subscribePattern", "outlet/board/+") && !has_acl(court, "subscribePattern", "outlet/board/#"));
    /* A board for a list: exactly those tenants' documents. */
    const cJSON *pair = role_acls(cmds, "kb-dev-pair-board");
    CHECK(cJSON_GetArraySize(pair) == 5 + 2 * 2);
    CHECK(reads(pair, "outlet/board/noodle") && reads(pair, "outlet/board/pizza") && !reads(pair, "outlet/board/burger"));
    CHECK(topics_under(pair, "outlet/board/") == 5);
    CHECK(count_type(pair, "publishClientSend") == 1 && topics_under(pair, "outlet/tenant/") == 0);
    /* Boards and the expo are created like every device (demo passwords). */
    CHECK(count(cmds, "createClient", "username", "court-board") == 1 && count(cmds, "createClient", "username", "pizza-expo") == 1);
    const cJSON *cc = find(cmds, "createClient", "username", "court-board");
    CHECK(cc && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cc, "password")));

    /* Applied, a second plan changes nothing. */
    char *clients = applied(bridge_clients, cmds, "createClient", "username");
    char *roles = applied(bridge_roles, cmds, "createRole", "rolename");
    cJSON_Delete(cmds);
    cmds = plan(r, clients, roles, &changes);
    CHECK(cmds && changes == 0);
    cJSON_Delete(cmds);

    /* The kitchen rebound from oven to cold, the pair board narrowed to
     * noodle: each role changes by the difference only. */
    registry *moved = load(
        "{\"outlet\":{\"id\":\"o\"},\"demo\":true,\"tenants\":["
        "{\"id\":\"pizza\",\"stations\":[\"oven\",\"cold\",\"bar\"],\"devices\":["
        "{\"username\":\"pizza-kitchen\",\"role\":\"kitchen\"},"
        "{\"username\":\"pizza-oven\",\"role\":\"kitchen\",\"station\":\"cold\"},"
        "{\"username\":\"pizza-bar\",\"role\":\"kitchen\",\"station\":\"bar\"},"
        "{\"username\":\"pizza-expo\",\"role\":\"expo\"}]},"
        "{\"id\":\"burger\",\"devices\":[{\"username\":\"burger-pos\",\"role\":\"pos\"}]},"
        "{\"id\":\"noodle\"}],"
        "\"boards\":[{\"username\":\"court-board\",\"tenants\":\"*\"},"
        "{\"username\":\"pair-board\",\"tenants\":[\"noodle\"]}]}");
    cmds = plan(moved, clients, roles, &changes);
    CHECK(changes == 6);
    CHECK(count(cmds, "addRoleACL", "topic", "outlet/tenant/pizza/stations/cold/orders/+") == 2);
    CHECK(count(cmds, "removeRoleACL", "topic", "outlet/tenant/pizza/stations/oven/orders/+") == 2);
    CHECK(count(cmds, "removeRoleACL", "topic", "outlet/board/pizza") == 2);
    CHECK(count(cmds, "removeRoleACL", "rolename", "kb-dev-pair-board") == 2);
    CHECK(count(cmds, "createClient", NULL, NULL) == 0 && count(cmds, "removeClientRole", NULL, NULL) == 0);
    cJSON_Delete(cmds);
    registry_free(moved);
    free(clients);
    free(roles);
    registry_free(r);
}

/* A "*" board in an outlet of many tenants reads every one of them: no
 * board document may be left out of its role. */
static void test_board_of_many_tenants(void)
{
    enum { N = 40 };
    char json[8192];
    int n = snprintf(json, sizeof json, "{\"outlet\":{\"id\":\"o\"},\"demo\":true,\"tenants\":[");
    for (int i = 0; i < N; i++) n += snprintf(json + n, sizeof json - (size_t)n, "%s{\"id\":\"t%02d\"}", i ? "," : "", i);
    snprintf(json + n, sizeof json - (size_t)n, "],\"boards\":[{\"username\":\"court-board\",\"tenants\":\"*\"}]}");
    registry *r = load(json);
    if (!r) return;
    int changes = -1;
    cJSON *cmds = plan(r, bridge_clients, bridge_roles, &changes);
    const cJSON *court = role_acls(cmds, "kb-dev-court-board");
    CHECK(cJSON_GetArraySize(court) == 5 + 2 * N);
    int missing = 0;
    for (int i = 0; i < N; i++) {
        char topic[64];
        snprintf(topic, sizeof topic, "outlet/board/t%02d", i);
        missing += !reads(court, topic);
    }
    CHECK(missing == 0);
    CHECK(reads(court, "outlet/device/court-board/info") && reads(court, "outlet/bridge/health"));
    cJSON_Delete(cmds);
    registry_free(r);
}

int main(void)
{
    test_fresh_broker_then_in_step();
    test_drift();
    test_station_expo_board_roles();
    test_board_of_many_tenants();
    return check_report();
}
