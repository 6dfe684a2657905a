/* stations_test.c - issue 14's model and base parts, pure: an order's parts
 * by station (model/order_stations.c) and how they move the order; the
 * registry's stations, board_names, station-bound kitchens, expo and board
 * devices, with every message a bad registry gets; the topics of expo
 * status, station views and boards; a kitchen's station report as the
 * validator reads it; and the ISO times the board's "since" is made of
 * (base/clock.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "order_stations.h"
#include "order_status.h"
#include "order_validate.h"
#include "registry.h"
#include "topics.h"

#include "check.h"

/* ---- helpers ------------------------------------------------------------ */

static registry *parse_ok(const char *json)
{
    registry *r = NULL;
    char err[256] = "";
    int rc = registry_parse(json, strlen(json), &r, err, sizeof err);
    if (rc != 0) fprintf(stderr, "registry refused: %s\n  %s\n", err, json);
    CHECK(rc == 0 && r != NULL);
    return rc == 0 ? r : NULL;
}

/* 1 if the registry is refused with exactly `want`, and *out untouched. */
static int refused(const char *json, const char *want)
{
    static registry sentinel_reg;
    registry *sentinel = &sentinel_reg, *r = sentinel; /* a refusal must not write *out */
    char err[256] = "";
    int rc = registry_parse(json, strlen(json), &r, err, sizeof err);
    if (rc == 0) {
        fprintf(stderr, "registry accepted, wanted \"%s\":\n  %s\n", want, json);
        registry_free(r);
        return 0;
    }
    if (strcmp(err, want) != 0) fprintf(stderr, "registry refused with \"%s\", wanted \"%s\"\n", err, want);
    return rc == -1 && r == sentinel && strcmp(err, want) == 0;
}

static const char *str_of(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The order's part of `station` as text, NULL if it has none. */
static const char *part(const cJSON *order, const char *station)
{
    return str_of(cJSON_GetObjectItemCaseSensitive(order, "stations"), station);
}

static int n_parts(const cJSON *order)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(order, "stations");
    return cJSON_IsObject(m) ? cJSON_GetArraySize(m) : -1;
}

static cJSON *parse_json(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    CHECK(j != NULL);
    return j;
}

/* ---- registries --------------------------------------------------------- */

/* The demo registry's shape (broker-config/demo-tenants.json). */
static const char demo[] =
    "{\"outlet\":{\"id\":\"demo\",\"name\":\"Demo Food Court\"},\"demo\":true,"
    "\"tenants\":["
    "{\"id\":\"pizza\",\"name\":\"Pizza Paradise\",\"stations\":[\"oven\",\"cold\",\"bar\"],\"board_names\":true,"
    "\"devices\":[{\"username\":\"pizza-pos\",\"role\":\"pos\"},{\"username\":\"pizza-kitchen\",\"role\":\"kitchen\"},"
    "{\"username\":\"pizza-oven\",\"role\":\"kitchen\",\"station\":\"oven\"},"
    "{\"username\":\"pizza-cold\",\"role\":\"kitchen\",\"station\":\"cold\"},"
    "{\"username\":\"pizza-bar\",\"role\":\"kitchen\",\"station\":\"bar\"},"
    "{\"username\":\"pizza-expo\",\"role\":\"expo\"}]},"
    "{\"id\":\"burger\",\"name\":\"Burger Station\",\"board_names\":false,\"devices\":["
    "{\"username\":\"burger-pos\",\"role\":\"pos\"},{\"username\":\"burger-kitchen\",\"role\":\"kitchen\"}]},"
    "{\"id\":\"noodle\",\"devices\":[{\"username\":\"noodle-pos\",\"role\":\"pos\"}]}],"
    "\"boards\":[{\"username\":\"court-board\",\"tenants\":\"*\"},"
    "{\"username\":\"pizza-board\",\"tenants\":[\"pizza\"]},"
    "{\"username\":\"two-board\",\"tenants\":[\"noodle\",\"burger\"]}],"
    "\"admins\":[{\"username\":\"admin\"}]}";

static void test_registry_stations_and_roles(void)
{
    registry *r = parse_ok(demo);
    if (!r) return;
    CHECK(r->n_tenants == 3 && r->n_devices == 13);
    const registry_tenant *pizza = registry_find_tenant(r, "pizza");
    const registry_tenant *burger = registry_find_tenant(r, "burger");
    const registry_tenant *noodle = registry_find_tenant(r, "noodle");
    CHECK(pizza && burger && noodle);
    if (!pizza || !burger || !noodle) {
        registry_free(r);
        return;
    }
    CHECK(pizza->n_stations == 3 && strcmp(pizza->stations[0], "oven") == 0 &&
          strcmp(pizza->stations[1], "cold") == 0 && strcmp(pizza->stations[2], "bar") == 0);
    CHECK(burger->n_stations == 0 && noodle->n_stations == 0);
    CHECK(pizza->board_names == 1 && burger->board_names == 0 && noodle->board_names == 0);
    CHECK(registry_station_index(pizza, "oven") == 0 && registry_station_index(pizza, "bar") == 2);
    CHECK(registry_station_index(pizza, "grill") == -1 && registry_station_index(pizza, "Oven") == -1);
    CHECK(registry_station_index(burger, "oven") == -1);

    /* Bound kitchens, an unbound one, the expo. */
    const registry_device *oven = registry_find_device(r, "pizza-oven");
    const registry_device *bar = registry_find_device(r, "pizza-bar");
    const registry_device *kitchen = registry_find_device(r, "pizza-kitchen");
    const registry_device *expo = registry_find_device(r, "pizza-expo");
    const registry_device *pos = registry_find_device(r, "pizza-pos");
    const registry_device *bk = registry_find_device(r, "burger-kitchen");
    const registry_device *admin = registry_find_device(r, "admin");
    CHECK(oven && bar && kitchen && expo && pos && bk && admin);
    if (oven && bar && kitchen && expo && pos && bk && admin) {
        CHECK(oven->role == DEVICE_KITCHEN && oven->station == 0 && oven->tenant == 0);
        CHECK(bar->role == DEVICE_KITCHEN && bar->station == 2);
        const char *s = registry_device_station(r, oven);
        CHECK(s && strcmp(s, "oven") == 0);
        s = registry_device_station(r, bar);
        CHECK(s && strcmp(s, "bar") == 0);
        s = registry_device_station(r, registry_find_device(r, "pizza-cold"));
        CHECK(s && strcmp(s, "cold") == 0);
        CHECK(kitchen->station == -1 && registry_device_station(r, kitchen) == NULL);
        CHECK(expo->role == DEVICE_EXPO && expo->tenant == 0 && expo->station == -1);
        CHECK(registry_device_station(r, expo) == NULL && registry_device_station(r, pos) == NULL);
        CHECK(registry_device_station(r, bk) == NULL);
        CHECK(registry_device_station(r, admin) == NULL);
        CHECK(registry_tenant_of(r, expo) == pizza);
        /* Only boards show boards. */
        CHECK(!registry_board_shows(expo, 0) && !registry_board_shows(pos, 0) && !registry_board_shows(admin, 0));
    }
    CHECK(strcmp(device_role_name(DEVICE_EXPO), "expo") == 0);
    CHECK(strcmp(device_role_name(DEVICE_BOARD), "board") == 0);
    CHECK(strcmp(device_role_name(DEVICE_KITCHEN), "kitchen") == 0);

    /* Boards: outlet level, no tenant, no station; "*" or a list. */
    const registry_device *court = registry_find_device(r, "court-board");
    const registry_device *pb = registry_find_device(r, "pizza-board");
    const registry_device *two = registry_find_device(r, "two-board");
    CHECK(court && pb && two);
    if (court && pb && two) {
        CHECK(court->role == DEVICE_BOARD && court->tenant == -1 && court->station == -1 && court->board_all == 1);
        CHECK(registry_tenant_of(r, court) == NULL && registry_device_station(r, court) == NULL);
        for (int i = 0; i < 3; i++) CHECK(registry_board_shows(court, i));
        CHECK(pb->board_all == 0 && pb->n_board_tenants == 1 && pb->board_tenants[0] == 0);
        CHECK(registry_board_shows(pb, 0) && !registry_board_shows(pb, 1) && !registry_board_shows(pb, 2));
        CHECK(two->n_board_tenants == 2 && two->board_tenants[0] == 2 && two->board_tenants[1] == 1);
        CHECK(!registry_board_shows(two, 0) && registry_board_shows(two, 1) && registry_board_shows(two, 2));
        CHECK(!registry_board_shows(two, 3) && !registry_board_shows(two, -1));
    }
    registry_free(r);

    /* Stations on a tenant that has no devices; at most 16 stations; a
     * 32-character station; board_names absent is false; boards may be
     * an empty list. */
    r = parse_ok("{\"outlet\":{\"id\":\"o\"},\"tenants\":[{\"id\":\"t\",\"stations\":[\"a\",\"b\",\"c\",\"d\",\"e\","
                 "\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\","
                 "\"abcdefghijklmnopqrstuvwxyz-_0123\"]}],\"boards\":[]}");
    if (r) {
        CHECK(r->tenants[0].n_stations == 16 && r->tenants[0].board_names == 0 && r->n_devices == 0);
        CHECK(registry_station_index(&r->tenants[0], "abcdefghijklmnopqrstuvwxyz-_0123") == 15);
        registry_free(r);
    }
    /* A board listing 24 tenants (the most). */
    char big[8192];
    int n = snprintf(big, sizeof big, "{\"outlet\":{\"id\":\"o\"},\"tenants\":[");
    for (int i = 0; i < 24; i++) n += snprintf(big + n, sizeof big - (size_t)n, "%s{\"id\":\"t%d\"}", i ? "," : "", i);
    n += snprintf(big + n, sizeof big - (size_t)n, "],\"boards\":[{\"username\":\"b\",\"tenants\":[");
    for (int i = 23; i >= 0; i--) n += snprintf(big + n, sizeof big - (size_t)n, "\"t%d\"%s", i, i ? "," : "");
    snprintf(big + n, sizeof big - (size_t)n, "]}]}");
    r = parse_ok(big);
    if (r) {
        const registry_device *b = registry_find_device(r, "b");
        CHECK(b && b->n_board_tenants == 24 && !b->board_all);
        for (int i = 0; b && i < 24; i++) CHECK(registry_board_shows(b, i));
        registry_free(r);
    }
}

static void test_registry_refusals(void)
{
#define O "{\"outlet\":{\"id\":\"o\"},"
    /* stations */
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"stations\":\"oven\"}]}",
                  "tenant t: stations must be a non-empty array of ids"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"stations\":[]}]}",
                  "tenant t: stations must be a non-empty array of ids"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"stations\":{\"oven\":1}}]}",
                  "tenant t: stations must be a non-empty array of ids"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"stations\":null}]}",
                  "tenant t: stations must be a non-empty array of ids"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"stations\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\","
                    "\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}]}",
                  "tenant t: at most 16 stations"));
    static const char *const bad_ids[] = {"\"Oven\"", "\"\"", "5", "null", "\"a b\"", "\"a/b\"", "\"+\"", "\"#\"",
                                          "\"abcdefghijklmnopqrstuvwxyz-_01234\"", "[\"x\"]"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
        char json[256];
        snprintf(json, sizeof json, O "\"tenants\":[{\"id\":\"t\",\"stations\":[\"oven\",%s]}]}", bad_ids[i]);
        CHECK(refused(json, "tenant t: a station must be 1-32 characters of a-z 0-9 _ -, or {\"id\": ..., \"printer\": {...}}"));
    }
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"stations\":[\"oven\",\"bar\",\"oven\"]}]}",
                  "tenant t: station oven is listed twice"));
    /* board_names */
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"board_names\":\"yes\"}]}",
                  "tenant t: board_names must be true or false"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"board_names\":1}]}", "tenant t: board_names must be true or false"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"board_names\":null}]}",
                  "tenant t: board_names must be true or false"));
    /* roles: board and admin are not tenant roles */
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"devices\":[{\"username\":\"b\",\"role\":\"board\"}]}]}",
                  "tenant t: device role must be pos, kitchen or expo"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"devices\":[{\"username\":\"a\",\"role\":\"admin\"}]}]}",
                  "tenant t: device role must be pos, kitchen or expo"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"devices\":[{\"username\":\"a\",\"role\":\"Expo\"}]}]}",
                  "tenant t: device role must be pos, kitchen or expo"));
    /* station binding */
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"stations\":[\"oven\"],\"devices\":["
                    "{\"username\":\"p\",\"role\":\"pos\",\"station\":\"oven\"}]}]}",
                  "device p: only a kitchen device may be bound to a station"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"stations\":[\"oven\"],\"devices\":["
                    "{\"username\":\"x\",\"role\":\"expo\",\"station\":\"oven\"}]}]}",
                  "device x: only a kitchen device may be bound to a station"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"stations\":[\"oven\"],\"devices\":["
                    "{\"username\":\"k\",\"role\":\"kitchen\",\"station\":\"grill\"}]}]}",
                  "device k: station must be one of tenant t's stations"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"devices\":["
                    "{\"username\":\"k\",\"role\":\"kitchen\",\"station\":\"oven\"}]}]}",
                  "device k: station must be one of tenant t's stations"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"stations\":[\"oven\"],\"devices\":["
                    "{\"username\":\"k\",\"role\":\"kitchen\",\"station\":0}]}]}",
                  "device k: station must be one of tenant t's stations"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"stations\":[\"oven\"],\"devices\":["
                    "{\"username\":\"k\",\"role\":\"kitchen\",\"station\":null}]}]}",
                  "device k: station must be one of tenant t's stations"));
    /* Another tenant's station is not this tenant's. */
    CHECK(refused(O "\"tenants\":[{\"id\":\"a\",\"stations\":[\"oven\"]},{\"id\":\"t\",\"stations\":[\"bar\"],"
                    "\"devices\":[{\"username\":\"k\",\"role\":\"kitchen\",\"station\":\"oven\"}]}]}",
                  "device k: station must be one of tenant t's stations"));
    /* boards */
    CHECK(refused(O "\"tenants\":[],\"boards\":{\"username\":\"b\",\"tenants\":\"*\"}}", "boards must be an array"));
    CHECK(refused(O "\"tenants\":[],\"boards\":\"*\"}", "boards must be an array"));
    CHECK(refused(O "\"tenants\":[],\"boards\":[{\"tenants\":\"*\"}]}",
                  "device username must be 1-32 characters of a-z 0-9 _ -"));
    CHECK(refused(O "\"tenants\":[],\"boards\":[\"court-board\"]}",
                  "device username must be 1-32 characters of a-z 0-9 _ -"));
    CHECK(refused(O "\"tenants\":[],\"boards\":[{\"username\":\"Court\",\"tenants\":\"*\"}]}",
                  "device username must be 1-32 characters of a-z 0-9 _ -"));
    CHECK(refused(O "\"tenants\":[],\"boards\":[{\"username\":\"kb-bridge\",\"tenants\":\"*\"}]}",
                  "username kb-bridge is reserved for the bridge"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"devices\":[{\"username\":\"b\",\"role\":\"pos\"}]}],"
                    "\"boards\":[{\"username\":\"b\",\"tenants\":\"*\"}]}",
                  "device b is listed twice"));
    CHECK(refused(O "\"tenants\":[],\"admins\":[{\"username\":\"b\"}],\"boards\":[{\"username\":\"b\",\"tenants\":\"*\"}]}",
                  "device b is listed twice"));
    CHECK(refused(O "\"tenants\":[],\"boards\":[{\"username\":\"b\",\"tenants\":\"*\"},{\"username\":\"b\",\"tenants\":\"*\"}]}",
                  "device b is listed twice"));
    static const char *const bad_lists[] = {"", ",\"tenants\":\"all\"", ",\"tenants\":\"\"", ",\"tenants\":[]",
                                            ",\"tenants\":5", ",\"tenants\":null", ",\"tenants\":{\"t\":1}",
                                            ",\"tenants\":\"t\""};
    for (size_t i = 0; i < sizeof bad_lists / sizeof *bad_lists; i++) {
        char json[256];
        snprintf(json, sizeof json, O "\"tenants\":[{\"id\":\"t\"}],\"boards\":[{\"username\":\"b\"%s}]}", bad_lists[i]);
        CHECK(refused(json, "board b: tenants must be \"*\" or a non-empty list of tenant ids"));
    }
    char big[8192];
    int n = snprintf(big, sizeof big, O "\"tenants\":[");
    for (int i = 0; i < 25; i++) n += snprintf(big + n, sizeof big - (size_t)n, "%s{\"id\":\"t%d\"}", i ? "," : "", i);
    n += snprintf(big + n, sizeof big - (size_t)n, "],\"boards\":[{\"username\":\"b\",\"tenants\":[");
    for (int i = 0; i < 25; i++) n += snprintf(big + n, sizeof big - (size_t)n, "%s\"t%d\"", i ? "," : "", i);
    snprintf(big + n, sizeof big - (size_t)n, "]}]}");
    CHECK(refused(big, "board b: list at most 24 tenants, or \"*\" for all"));
    /* A list naming no tenant of the registry; a bad entry after good ones
     * (the list allocated by then is freed with the registry). */
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\"}],\"boards\":[{\"username\":\"b\",\"tenants\":[\"sushi\"]}]}",
                  "board b: tenants must name tenants of this registry"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\"},{\"id\":\"u\"}],\"boards\":[{\"username\":\"b\",\"tenants\":[\"t\",\"u\",5]}]}",
                  "board b: tenants must name tenants of this registry"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\"}],\"boards\":[{\"username\":\"b\",\"tenants\":[\"t\"]},"
                    "{\"username\":\"c\",\"tenants\":[\"T\"]}]}",
                  "board c: tenants must name tenants of this registry"));
#undef O
}

/* ---- order_stations ----------------------------------------------------- */

static const registry_tenant *tenant(const registry *r, const char *id)
{
    const registry_tenant *t = registry_find_tenant(r, id);
    CHECK(t != NULL);
    return t;
}

static void test_assign_stations(void)
{
    registry *r = parse_ok(demo);
    if (!r) return;
    const registry_tenant *pizza = tenant(r, "pizza"), *burger = tenant(r, "burger");
    order_rejection rej;

    /* Items at oven (none given), bar and oven: parts in the tenant's order,
     * every one new; items stay as the POS sent them. */
    cJSON *o = parse_json("{\"order_number\":\"1\",\"items\":[{\"name\":\"Beer\",\"qty\":1,\"station\":\"bar\"},"
                          "{\"name\":\"Bread\",\"qty\":1},{\"name\":\"Pie\",\"qty\":1,\"station\":\"oven\"},"
                          "{\"name\":\"Tea\",\"qty\":1,\"station\":null}]}");
    char *before = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, "items"));
    memset(&rej, 0, sizeof rej);
    CHECK(order_assign_stations(o, pizza, &rej) == KB_OK && rej.error == KB_OK);
    CHECK(n_parts(o) == 2 && part(o, "oven") && part(o, "bar") && !part(o, "cold"));
    CHECK(strcmp(part(o, "oven"), "new") == 0 && strcmp(part(o, "bar"), "new") == 0);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(o, "stations");
    CHECK(map && map->child && strcmp(map->child->string, "oven") == 0 && map->child->next &&
          strcmp(map->child->next->string, "bar") == 0);
    char *after = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, "items"));
    CHECK(before && after && strcmp(before, after) == 0);
    free(before);
    free(after);
    CHECK(order_station_status(o, "oven") == ORDER_STATUS_NEW && order_station_status(o, "bar") == ORDER_STATUS_NEW);
    CHECK(order_station_status(o, "cold") == ORDER_STATUS_INVALID);
    CHECK(order_station_status(o, "grill") == ORDER_STATUS_INVALID);
    cJSON_Delete(o);

    /* Only the cold station. */
    o = parse_json("{\"items\":[{\"name\":\"Salad\",\"qty\":1,\"station\":\"cold\"}]}");
    CHECK(order_assign_stations(o, pizza, &rej) == KB_OK && n_parts(o) == 1 && part(o, "cold"));
    cJSON_Delete(o);

    /* A "stations" the POS sent is replaced by the bridge's. */
    o = parse_json("{\"items\":[{\"name\":\"Pie\",\"qty\":1}],\"stations\":{\"bar\":\"ready\",\"x\":\"ready\"}}");
    CHECK(order_assign_stations(o, pizza, &rej) == KB_OK);
    CHECK(n_parts(o) == 1 && part(o, "oven") && strcmp(part(o, "oven"), "new") == 0 && !part(o, "bar"));
    cJSON_Delete(o);

    /* Not a station of the tenant: invalid_field, naming the item. */
    static const char *const bad[] = {"\"grill\"", "\"Oven\"", "5", "true", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"items\":[{\"name\":\"Pie\",\"qty\":1},{\"name\":\"X\",\"qty\":1,\"station\":%s}]}",
                 bad[i]);
        o = parse_json(json);
        memset(&rej, 0, sizeof rej);
        CHECK(order_assign_stations(o, pizza, &rej) == KB_ERR_INVALID_FIELD);
        CHECK(rej.error == KB_ERR_INVALID_FIELD &&
              strcmp(rej.detail, "items[1].station must be one of the tenant's stations") == 0);
        CHECK(!cJSON_GetObjectItemCaseSensitive(o, "stations"));
        cJSON_Delete(o);
    }

    /* A tenant without stations leaves the order alone: free-text stations. */
    o = parse_json("{\"items\":[{\"name\":\"Burger\",\"qty\":1,\"station\":\"grill\"}],\"stations\":{\"a\":\"b\"}}");
    char *text = cJSON_PrintUnformatted(o);
    memset(&rej, 0, sizeof rej);
    CHECK(order_assign_stations(o, burger, &rej) == KB_OK && rej.error == KB_OK);
    char *text2 = cJSON_PrintUnformatted(o);
    CHECK(text && text2 && strcmp(text, text2) == 0);
    free(text);
    free(text2);
    cJSON_Delete(o);
    registry_free(r);
}

static void test_item_station(void)
{
    cJSON *items = parse_json("[{\"name\":\"a\",\"station\":\"bar\"},{\"name\":\"b\"},{\"name\":\"c\",\"station\":null},"
                              "{\"name\":\"d\",\"station\":7}]");
    CHECK(strcmp(order_item_station(cJSON_GetArrayItem(items, 0), "oven"), "bar") == 0);
    CHECK(strcmp(order_item_station(cJSON_GetArrayItem(items, 1), "oven"), "oven") == 0);
    CHECK(strcmp(order_item_station(cJSON_GetArrayItem(items, 2), "oven"), "oven") == 0);
    CHECK(strcmp(order_item_station(cJSON_GetArrayItem(items, 3), "oven"), "oven") == 0);
    CHECK(order_item_station(cJSON_GetArrayItem(items, 1), NULL) == NULL);
    cJSON_Delete(items);
}

/* An order doc with these parts, e.g. "\"oven\":\"new\",\"bar\":\"new\"". */
static cJSON *with_parts(const char *parts)
{
    char json[256];
    snprintf(json, sizeof json, "{\"order_number\":\"1\",\"stations\":{%s}}", parts);
    return parse_json(json);
}

static void test_station_move(void)
{
    order_status to;
    /* new: the first part started makes the order preparing. */
    cJSON *o = with_parts("\"oven\":\"new\",\"bar\":\"new\"");
    to = ORDER_STATUS_INVALID;
    CHECK(order_station_move(o, ORDER_STATUS_NEW, "oven", ORDER_STATUS_PREPARING, &to) == STATION_MOVED);
    CHECK(to == ORDER_STATUS_PREPARING && strcmp(part(o, "oven"), "preparing") == 0 && strcmp(part(o, "bar"), "new") == 0);
    /* The same report again: a duplicate, *order_to untouched, nothing changes. */
    to = ORDER_STATUS_INVALID;
    CHECK(order_station_move(o, ORDER_STATUS_PREPARING, "oven", ORDER_STATUS_PREPARING, &to) == STATION_UNCHANGED);
    CHECK(to == ORDER_STATUS_INVALID && strcmp(part(o, "oven"), "preparing") == 0);
    /* A station the order has no part for, one the tenant does not have. */
    CHECK(order_station_move(o, ORDER_STATUS_PREPARING, "cold", ORDER_STATUS_READY, &to) == STATION_UNKNOWN);
    CHECK(order_station_move(o, ORDER_STATUS_PREPARING, "grill", ORDER_STATUS_PREPARING, &to) == STATION_UNKNOWN);
    CHECK(to == ORDER_STATUS_INVALID && n_parts(o) == 2);
    /* A part ready while another is not: the order stays preparing. */
    CHECK(order_station_move(o, ORDER_STATUS_PREPARING, "oven", ORDER_STATUS_READY, &to) == STATION_MOVED);
    CHECK(to == ORDER_STATUS_PREPARING && strcmp(part(o, "oven"), "ready") == 0);
    CHECK(order_station_move(o, ORDER_STATUS_PREPARING, "oven", ORDER_STATUS_READY, &to) == STATION_UNCHANGED);
    /* The bar goes straight from new to ready: the last part, the order is ready. */
    to = ORDER_STATUS_INVALID;
    CHECK(order_station_move(o, ORDER_STATUS_PREPARING, "bar", ORDER_STATUS_READY, &to) == STATION_MOVED);
    CHECK(to == ORDER_STATUS_READY && strcmp(part(o, "bar"), "ready") == 0 && strcmp(part(o, "oven"), "ready") == 0);
    /* Recall of one part on a ready order: preparing again. */
    to = ORDER_STATUS_INVALID;
    CHECK(order_station_move(o, ORDER_STATUS_READY, "oven", ORDER_STATUS_PREPARING, &to) == STATION_MOVED);
    CHECK(to == ORDER_STATUS_PREPARING && strcmp(part(o, "oven"), "preparing") == 0 && strcmp(part(o, "bar"), "ready") == 0);
    /* A recall on a preparing order keeps it preparing. */
    CHECK(order_station_move(o, ORDER_STATUS_PREPARING, "bar", ORDER_STATUS_PREPARING, &to) == STATION_MOVED);
    CHECK(to == ORDER_STATUS_PREPARING && strcmp(part(o, "bar"), "preparing") == 0);
    /* Both ready again, in turn: ready at the last. */
    CHECK(order_station_move(o, ORDER_STATUS_PREPARING, "bar", ORDER_STATUS_READY, &to) == STATION_MOVED &&
          to == ORDER_STATUS_PREPARING);
    CHECK(order_station_move(o, ORDER_STATUS_PREPARING, "oven", ORDER_STATUS_READY, &to) == STATION_MOVED &&
          to == ORDER_STATUS_READY);
    cJSON_Delete(o);

    /* accepted: a part started makes it preparing; a part ready too. */
    o = with_parts("\"oven\":\"new\",\"bar\":\"new\"");
    CHECK(order_station_move(o, ORDER_STATUS_ACCEPTED, "bar", ORDER_STATUS_PREPARING, &to) == STATION_MOVED &&
          to == ORDER_STATUS_PREPARING);
    cJSON_Delete(o);
    o = with_parts("\"oven\":\"new\",\"bar\":\"new\"");
    CHECK(order_station_move(o, ORDER_STATUS_ACCEPTED, "bar", ORDER_STATUS_READY, &to) == STATION_MOVED &&
          to == ORDER_STATUS_PREPARING);
    cJSON_Delete(o);
    o = with_parts("\"oven\":\"new\",\"bar\":\"new\"");
    CHECK(order_station_move(o, ORDER_STATUS_NEW, "bar", ORDER_STATUS_READY, &to) == STATION_MOVED &&
          to == ORDER_STATUS_PREPARING);
    cJSON_Delete(o);

    /* One part only: ready from new or accepted is the order ready. */
    o = with_parts("\"cold\":\"new\"");
    CHECK(order_station_move(o, ORDER_STATUS_NEW, "cold", ORDER_STATUS_READY, &to) == STATION_MOVED &&
          to == ORDER_STATUS_READY);
    CHECK(order_station_move(o, ORDER_STATUS_READY, "cold", ORDER_STATUS_PREPARING, &to) == STATION_MOVED &&
          to == ORDER_STATUS_PREPARING);
    cJSON_Delete(o);
    o = with_parts("\"cold\":\"preparing\"");
    CHECK(order_station_move(o, ORDER_STATUS_ACCEPTED, "cold", ORDER_STATUS_READY, &to) == STATION_MOVED &&
          to == ORDER_STATUS_READY);
    cJSON_Delete(o);

    /* Three parts: the order is ready only with the third. */
    o = with_parts("\"oven\":\"preparing\",\"cold\":\"ready\",\"bar\":\"preparing\"");
    CHECK(order_station_move(o, ORDER_STATUS_PREPARING, "oven", ORDER_STATUS_READY, &to) == STATION_MOVED &&
          to == ORDER_STATUS_PREPARING);
    CHECK(order_station_move(o, ORDER_STATUS_PREPARING, "bar", ORDER_STATUS_READY, &to) == STATION_MOVED &&
          to == ORDER_STATUS_READY);
    cJSON_Delete(o);

    /* No parts at all, a part that is not text: unknown. */
    o = parse_json("{\"order_number\":\"1\"}");
    CHECK(order_station_move(o, ORDER_STATUS_NEW, "oven", ORDER_STATUS_READY, &to) == STATION_UNKNOWN);
    CHECK(order_station_status(o, "oven") == ORDER_STATUS_INVALID);
    cJSON_Delete(o);
    o = with_parts("\"oven\":3,\"bar\":\"new\"");
    CHECK(order_station_move(o, ORDER_STATUS_NEW, "oven", ORDER_STATUS_READY, &to) == STATION_UNKNOWN);
    CHECK(order_station_status(o, "oven") == ORDER_STATUS_INVALID);
    /* ...and it never counts as ready: the last text part ready leaves the order preparing. */
    CHECK(order_station_move(o, ORDER_STATUS_NEW, "bar", ORDER_STATUS_READY, &to) == STATION_MOVED &&
          to == ORDER_STATUS_PREPARING);
    cJSON_Delete(o);
}

static void test_stations_follow(void)
{
    /* The whole order to ready: every part ready, whatever it was. */
    cJSON *o = with_parts("\"oven\":\"new\",\"cold\":\"preparing\",\"bar\":\"ready\"");
    order_stations_follow(o, ORDER_STATUS_PREPARING, ORDER_STATUS_READY);
    CHECK(strcmp(part(o, "oven"), "ready") == 0 && strcmp(part(o, "cold"), "ready") == 0 &&
          strcmp(part(o, "bar"), "ready") == 0 && n_parts(o) == 3);
    /* Served or cancelled leave the parts as they are. */
    order_stations_follow(o, ORDER_STATUS_READY, ORDER_STATUS_SERVED);
    CHECK(strcmp(part(o, "oven"), "ready") == 0 && strcmp(part(o, "cold"), "ready") == 0);
    /* A whole-order recall: every part preparing. */
    order_stations_follow(o, ORDER_STATUS_READY, ORDER_STATUS_PREPARING);
    CHECK(strcmp(part(o, "oven"), "preparing") == 0 && strcmp(part(o, "cold"), "preparing") == 0 &&
          strcmp(part(o, "bar"), "preparing") == 0);
    cJSON_Delete(o);

    /* Moves that are not to ready nor a recall change no part. */
    static const order_status moves[][2] = {{ORDER_STATUS_NEW, ORDER_STATUS_ACCEPTED},
                                            {ORDER_STATUS_ACCEPTED, ORDER_STATUS_PREPARING},
                                            {ORDER_STATUS_PREPARING, ORDER_STATUS_CANCELLED},
                                            {ORDER_STATUS_NEW, ORDER_STATUS_CANCELLED},
                                            {ORDER_STATUS_READY, ORDER_STATUS_CANCELLED},
                                            {ORDER_STATUS_READY, ORDER_STATUS_SERVED}};
    for (size_t i = 0; i < sizeof moves / sizeof *moves; i++) {
        o = with_parts("\"oven\":\"new\",\"cold\":\"preparing\",\"bar\":\"ready\"");
        order_stations_follow(o, moves[i][0], moves[i][1]);
        CHECK(strcmp(part(o, "oven"), "new") == 0 && strcmp(part(o, "cold"), "preparing") == 0 &&
              strcmp(part(o, "bar"), "ready") == 0);
        cJSON_Delete(o);
    }
    /* An order without parts is left alone. */
    o = parse_json("{\"order_number\":\"1\",\"status\":\"preparing\"}");
    order_stations_follow(o, ORDER_STATUS_PREPARING, ORDER_STATUS_READY);
    order_stations_follow(o, ORDER_STATUS_READY, ORDER_STATUS_PREPARING);
    CHECK(!cJSON_GetObjectItemCaseSensitive(o, "stations") && cJSON_GetArraySize(o) == 2);
    cJSON_Delete(o);
}

/* ---- topics ------------------------------------------------------------- */

static void test_topics(void)
{
    topic_info t;
    CHECK(topic_parse("outlet/tenant/pizza/expo/pizza-expo/status", &t) == TOPIC_EXPO_STATUS);
    CHECK(t.kind == TOPIC_EXPO_STATUS && strcmp(t.tenant, "pizza") == 0 && strcmp(t.device, "pizza-expo") == 0);
    CHECK(topic_parse("outlet/tenant/pizza/stations/oven/orders/A-17.x_1", &t) == TOPIC_STATION_VIEW);
    CHECK(t.kind == TOPIC_STATION_VIEW && strcmp(t.tenant, "pizza") == 0 && strcmp(t.station, "oven") == 0 &&
          strcmp(t.order_number, "A-17.x_1") == 0 && t.device[0] == '\0');
    /* The kitchen status topic still parses with no station in it. */
    CHECK(topic_parse("outlet/tenant/pizza/kitchen/pizza-oven/status", &t) == TOPIC_KITCHEN_STATUS &&
          t.station[0] == '\0');
    static const char *const other[] = {
        "outlet/tenant/pizza/expo/pizza-expo/submit",
        "outlet/tenant/pizza/expo/pizza-expo/ack",
        "outlet/tenant/pizza/expo/Pizza-Expo/status",
        "outlet/tenant/pizza/expo/+/status",
        "outlet/tenant/pizza/expo//status",
        "outlet/tenant/pizza/expo/pizza-expo/status/x",
        "outlet/tenant/pizza/stations/Oven/orders/17",
        "outlet/tenant/pizza/stations/+/orders/17",
        "outlet/tenant/pizza/stations//orders/17",
        "outlet/tenant/pizza/stations/oven/orders/a b",
        "outlet/tenant/pizza/stations/oven/orders/+",
        "outlet/tenant/pizza/stations/oven/orders/",
        "outlet/tenant/pizza/stations/oven/order/17",
        "outlet/tenant/pizza/station/oven/orders/17",
        "outlet/tenant/pizza/stations/oven/orders/17/x",
        "outlet/tenant/pizza/stations/oven/orders",
        "outlet/tenant/Pizza/stations/oven/orders/17",
        "outlet/tenant/pizza/stations/abcdefghijklmnopqrstuvwxyz-_01234/orders/17",
        "outlet/board/pizza", /* the bridge writes boards, it reads none */
        "outlet/board/pizza/x",
    };
    for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
        topic_kind k = topic_parse(other[i], &t);
        if (k != TOPIC_OTHER) fprintf(stderr, "topic %s parsed as %d\n", other[i], (int)k);
        CHECK(k == TOPIC_OTHER && t.kind == TOPIC_OTHER);
    }
    /* A 64-character order number is the longest. */
    char topic[TOPIC_MAX], num[80];
    memset(num, 'n', 64);
    num[64] = '\0';
    snprintf(topic, sizeof topic, "outlet/tenant/pizza/stations/oven/orders/%s", num);
    CHECK(topic_parse(topic, &t) == TOPIC_STATION_VIEW && strlen(t.order_number) == 64);
    strcat(topic, "n");
    CHECK(topic_parse(topic, &t) == TOPIC_OTHER);

    /* Builders, and what they build parses back. */
    char buf[TOPIC_MAX];
    CHECK(topic_station_order(buf, sizeof buf, "pizza", "oven", "17") == 0 &&
          strcmp(buf, "outlet/tenant/pizza/stations/oven/orders/17") == 0);
    CHECK(topic_parse(buf, &t) == TOPIC_STATION_VIEW && strcmp(t.station, "oven") == 0 &&
          strcmp(t.order_number, "17") == 0);
    CHECK(topic_station_order(buf, sizeof buf, "pizza", "bar", "+") == 0 &&
          strcmp(buf, "outlet/tenant/pizza/stations/bar/orders/+") == 0);
    CHECK(strcmp(TOPIC_SUB_STATION_VIEWS, "outlet/tenant/+/stations/+/orders/+") == 0);
    CHECK(topic_board(buf, sizeof buf, "pizza") == 0 && strcmp(buf, "outlet/board/pizza") == 0);
    CHECK(topic_device_in(buf, sizeof buf, "pizza", DEVICE_EXPO, "pizza-expo") == 0 &&
          strcmp(buf, "outlet/tenant/pizza/expo/pizza-expo/status") == 0);
    CHECK(topic_parse(buf, &t) == TOPIC_EXPO_STATUS && strcmp(t.device, "pizza-expo") == 0);
    CHECK(topic_ack(buf, sizeof buf, "pizza", DEVICE_EXPO, "pizza-expo") == 0 &&
          strcmp(buf, "outlet/tenant/pizza/expo/pizza-expo/ack") == 0);
    CHECK(strcmp(TOPIC_SUB_EXPO_STATUS, "outlet/tenant/+/expo/+/status") == 0);
    /* Too small a buffer: -1 (exactly enough: 0). */
    CHECK(topic_board(buf, 18, "pizza") == -1 && topic_board(buf, 19, "pizza") == 0);
    CHECK(topic_station_order(buf, 20, "pizza", "oven", "17") == -1);
    size_t need = strlen("outlet/tenant/pizza/stations/oven/orders/17") + 1;
    CHECK(topic_station_order(buf, need - 1, "pizza", "oven", "17") == -1 &&
          topic_station_order(buf, need, "pizza", "oven", "17") == 0);
}

/* ---- station reports as the validator reads them ------------------------ */

static kb_error kitchen(const char *json, order_request *req, order_rejection *rej)
{
    kb_error e = order_request_parse(json, strlen(json), ORDER_SOURCE_KITCHEN, "pizza", req, rej);
    CHECK(req->order == NULL);
    return e;
}

static void test_station_reports(void)
{
    order_request req;
    order_rejection rej;
    CHECK(kitchen("{\"order_number\":\"17\",\"station\":\"oven\",\"status\":\"ready\"}", &req, &rej) == KB_OK);
    CHECK(req.kind == ORDER_REQ_STATION && req.status == ORDER_STATUS_READY && strcmp(req.station, "oven") == 0 &&
          strcmp(req.order_number, "17") == 0);
    CHECK(kitchen("{\"order_number\":17,\"station\":\"bar\",\"status\":\"preparing\",\"action\":\"status\"}", &req,
                  &rej) == KB_OK);
    CHECK(req.kind == ORDER_REQ_STATION && req.status == ORDER_STATUS_PREPARING && strcmp(req.station, "bar") == 0 &&
          strcmp(req.order_number, "17") == 0);
    /* 32 characters is the longest station. */
    CHECK(kitchen("{\"order_number\":\"1\",\"station\":\"abcdefghijklmnopqrstuvwxyz-_0123\",\"status\":\"ready\"}", &req,
                  &rej) == KB_OK);
    CHECK(req.kind == ORDER_REQ_STATION && strcmp(req.station, "abcdefghijklmnopqrstuvwxyz-_0123") == 0);
    /* No station, or null: a whole-order status as before. */
    CHECK(kitchen("{\"order_number\":\"17\",\"status\":\"ready\"}", &req, &rej) == KB_OK &&
          req.kind == ORDER_REQ_STATUS && req.station[0] == '\0');
    CHECK(kitchen("{\"order_number\":\"17\",\"station\":null,\"status\":\"served\"}", &req, &rej) == KB_OK &&
          req.kind == ORDER_REQ_STATUS && req.status == ORDER_STATUS_SERVED && req.station[0] == '\0');

    /* Invalid station reports: the order number is still read back. */
    static const struct {
        const char *json;
        kb_error want;
        const char *detail; /* NULL: any */
    } bad[] = {
        {"{\"order_number\":\"17\",\"station\":\"Oven\",\"status\":\"ready\"}", KB_ERR_INVALID_FIELD,
         "station must be a station id of the tenant"},
        {"{\"order_number\":\"17\",\"station\":\"\",\"status\":\"ready\"}", KB_ERR_INVALID_FIELD,
         "station must be a station id of the tenant"},
        {"{\"order_number\":\"17\",\"station\":\"oven/bar\",\"status\":\"ready\"}", KB_ERR_INVALID_FIELD,
         "station must be a station id of the tenant"},
        {"{\"order_number\":\"17\",\"station\":\"+\",\"status\":\"ready\"}", KB_ERR_INVALID_FIELD,
         "station must be a station id of the tenant"},
        {"{\"order_number\":\"17\",\"station\":\"abcdefghijklmnopqrstuvwxyz-_01234\",\"status\":\"ready\"}",
         KB_ERR_INVALID_FIELD, "station must be a station id of the tenant"},
        {"{\"order_number\":\"17\",\"station\":5,\"status\":\"ready\"}", KB_ERR_INVALID_FIELD,
         "station must be a station id of the tenant"},
        {"{\"order_number\":\"17\",\"station\":[\"oven\"],\"status\":\"ready\"}", KB_ERR_INVALID_FIELD,
         "station must be a station id of the tenant"},
        {"{\"order_number\":\"17\",\"station\":true,\"status\":\"ready\"}", KB_ERR_INVALID_FIELD,
         "station must be a station id of the tenant"},
        {"{\"order_number\":\"17\",\"station\":\"oven\",\"status\":\"served\"}", KB_ERR_INVALID_FIELD,
         "a station reports preparing or ready"},
        {"{\"order_number\":\"17\",\"station\":\"oven\",\"status\":\"accepted\"}", KB_ERR_INVALID_FIELD,
         "a station reports preparing or ready"},
        {"{\"order_number\":\"17\",\"station\":\"oven\",\"status\":\"new\"}", KB_ERR_INVALID_FIELD,
         "a station reports preparing or ready"},
        {"{\"order_number\":\"17\",\"station\":\"oven\",\"status\":\"cancelled\"}", KB_ERR_INVALID_FIELD,
         "a station reports preparing or ready"},
        {"{\"order_number\":\"17\",\"station\":\"oven\",\"status\":\"done\"}", KB_ERR_UNKNOWN_STATUS, NULL},
        {"{\"order_number\":\"17\",\"station\":\"oven\",\"status\":3}", KB_ERR_INVALID_FIELD, "status must be a string"},
        {"{\"order_number\":\"17\",\"station\":\"oven\"}", KB_ERR_MISSING_FIELD, "status is required"},
        {"{\"order_number\":\"17\",\"station\":\"oven\",\"status\":\"ready\",\"action\":\"cancel\"}",
         KB_ERR_UNKNOWN_ACTION, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        kb_error e = kitchen(bad[i].json, &req, &rej);
        if (e != bad[i].want) fprintf(stderr, "station case %zu: %d, wanted %d\n", i, (int)e, (int)bad[i].want);
        CHECK(e == bad[i].want && rej.error == bad[i].want && strcmp(rej.order_number, "17") == 0);
        CHECK(bad[i].detail ? strcmp(rej.detail, bad[i].detail) == 0 : rej.detail[0] != '\0');
    }
    /* No order number: missing_field before anything about the station. */
    CHECK(kitchen("{\"station\":\"oven\",\"status\":\"ready\"}", &req, &rej) == KB_ERR_MISSING_FIELD);

    /* A new order's item station must be text (whether it is one of the
     * tenant's is the pipeline's to say, with the registry). */
    const char *json = "{\"order_number\":\"5\",\"tenant_id\":\"pizza\",\"items\":[{\"name\":\"a\",\"qty\":1,"
                       "\"station\":\"bar\"},{\"name\":\"b\",\"qty\":1,\"station\":7}]}";
    CHECK(order_request_parse(json, strlen(json), ORDER_SOURCE_POS, "pizza", &req, &rej) == KB_ERR_INVALID_FIELD);
    CHECK(strcmp(rej.detail, "items[1].station must be a string") == 0 && strcmp(rej.order_number, "5") == 0);
    json = "{\"order_number\":\"5\",\"tenant_id\":\"pizza\",\"items\":[{\"name\":\"a\",\"qty\":1,\"station\":\"grill\"}]}";
    CHECK(order_request_parse(json, strlen(json), ORDER_SOURCE_POS, "pizza", &req, &rej) == KB_OK &&
          req.kind == ORDER_REQ_CREATE);
    order_request_free(&req);
}

/* ---- ISO times ---------------------------------------------------------- */

static void test_iso_times(void)
{
    static const long long round[] = {0,          1,           999,           1000,          59999,
                                      86399999LL, 951782400000LL, 1709251199999LL, 1764053400123LL,
                                      4102444799999LL};
    char buf[40];
    for (size_t i = 0; i < sizeof round / sizeof *round; i++) {
        kb_iso_from_ms(round[i], buf, sizeof buf);
        long long back = kb_iso_parse_ms(buf);
        if (back != round[i]) fprintf(stderr, "iso round trip %lld -> %s -> %lld\n", round[i], buf, back);
        CHECK(back == round[i] && strlen(buf) == 24 && buf[23] == 'Z');
    }
    kb_iso_from_ms(1764053400123LL, buf, sizeof buf);
    CHECK(strcmp(buf, "2025-11-25T06:50:00.123Z") == 0);
    kb_iso_from_ms(0, buf, sizeof buf);
    CHECK(strcmp(buf, "1970-01-01T00:00:00.000Z") == 0);
    kb_iso_from_ms(951868800000LL - 1, buf, sizeof buf); /* the last ms of 2000-02-29 */
    CHECK(strcmp(buf, "2000-02-29T23:59:59.999Z") == 0);
    CHECK(kb_iso_parse_ms("2000-02-29T23:59:59.999Z") == 951868800000LL - 1);

    /* Milliseconds optional, fewer or more digits read as a fraction. */
    CHECK(kb_iso_parse_ms("2025-11-25T06:50:00Z") == 1764053400000LL);
    CHECK(kb_iso_parse_ms("2025-11-25T06:50:00.1Z") == 1764053400100LL);
    CHECK(kb_iso_parse_ms("2025-11-25T06:50:00.12Z") == 1764053400120LL);
    CHECK(kb_iso_parse_ms("2025-11-25T06:50:00.123Z") == 1764053400123LL);
    CHECK(kb_iso_parse_ms("2025-11-25T06:50:00.1239Z") == 1764053400123LL);
    CHECK(kb_iso_parse_ms("2025-11-25T06:50:00.000000Z") == 1764053400000LL);

    /* Now, both ways: kb_iso_time reads back within a second of kb_wall_ms. */
    long long before = kb_wall_ms();
    kb_iso_time(buf, sizeof buf);
    long long parsed = kb_iso_parse_ms(buf), after = kb_wall_ms();
    CHECK(parsed >= before - 1 && parsed <= after && after - before < 1000);
    CHECK(before > 1700000000000LL); /* a wall clock, not the monotonic one */

    static const char *const bad[] = {
        "",
        "garbage",
        "2025-11-25",
        "2025-11-25T06:50",
        "2025-11-25T06:50:00",
        "2025-11-25T06:50:00.123",
        "2025-11-25T06:50:00+01:00",
        "2025-11-25T06:50:00.123+00:00",
        "2025-11-25T06:50:00z",
        "2025-11-25T06:50:00Z ",
        "2025-11-25T06:50:00ZZ",
        "2025-11-25T06:50:00.12aZ",
        "2025-11-25 06:50:00Z",
        "2025-11-25T06:50:00.Z",
        " 2025-11-25T06:50:00Z",
        "2025-1-25T06:50:00Z",
        "2025-11-5T06:50:00Z",
        "2025-11-25T6:50:00Z",
        "2025-11-25T06:5:00Z",
        "2025-11-25T06:50:0Z",
        "25-11-25T06:50:00Z",
        "+2025-11-25T06:50:00Z",
        "2025-+1-25T06:50:00Z",
        "2025-13-01T00:00:00Z",
        "2025-00-10T00:00:00Z",
        "2025-11-00T00:00:00Z",
        "2025-11-31T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2025-11-25T24:00:00Z",
        "2025-11-25T06:60:00Z",
        "2025-11-25T06:50:61Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        long long v = kb_iso_parse_ms(bad[i]);
        if (v != -1) fprintf(stderr, "iso \"%s\" read as %lld\n", bad[i], v);
        CHECK(v == -1);
    }
    CHECK(kb_iso_parse_ms(NULL) == -1);
}

/* Printers (issue 18): a tenant's and a station's, their defaults and refusals. */
static void test_registry_printers(void)
{
#define O "{\"outlet\":{\"id\":\"o\"},"
    registry *r = parse_ok(O "\"tenants\":[{\"id\":\"t\",\"printer\":{\"address\":\"192.168.1.50\"},"
                             "\"stations\":[\"oven\",{\"id\":\"bar\",\"printer\":{\"cups\":\"bar_1\",\"mode\":\"always\","
                             "\"width\":32,\"codepage\":\"cp437\",\"from_screen\":false}}]}]}");
    CHECK(r != NULL);
    if (r) {
        const registry_tenant *t = &r->tenants[0];
        CHECK(t->printer.set && strcmp(t->printer.address, "192.168.1.50:9100") == 0 && !t->printer.cups[0]);
        CHECK(t->printer.width == 42 && strcmp(t->printer.codepage, "cp858") == 0);
        CHECK(t->printer.mode == PRINT_BACKUP && t->printer.from_screen == 1);
        CHECK(!t->station_printers[0].set);
        const registry_printer *bar = &t->station_printers[1];
        CHECK(bar->set && strcmp(bar->cups, "bar_1") == 0 && !bar->address[0]);
        CHECK(bar->mode == PRINT_ALWAYS && bar->width == 32 && strcmp(bar->codepage, "cp437") == 0 && !bar->from_screen);
        CHECK(t->n_stations == 2 && strcmp(t->stations[1], "bar") == 0);
        char key[REGISTRY_PRINTER_KEY_MAX + 1];
        CHECK(registry_printer_key(key, sizeof key, t, 1) == 0 && strcmp(key, "t/bar") == 0);
        CHECK(registry_printer_key(key, sizeof key, t, -1) == 0 && strcmp(key, "t") == 0);
        registry_free(r);
    }
#define T "\"tenants\":[{\"id\":\"t\",\"printer\":"
    CHECK(refused(O T "{}}]}", "tenant t: a printer needs an \"address\" (\"192.168.1.50:9100\") or a \"cups\" queue, not both"));
    CHECK(refused(O T "{\"address\":\"a:1\",\"cups\":\"q\"}}]}",
                  "tenant t: a printer needs an \"address\" (\"192.168.1.50:9100\") or a \"cups\" queue, not both"));
    static const char *const bad_addresses[] = {"\"\"", "\"h:0\"", "\"h:65536\"", "\"h:x\"", "\":9100\"", "\"a b:1\"",
                                                "\"h:1:2\"", "\"h;rm\""};
    for (size_t i = 0; i < sizeof bad_addresses / sizeof *bad_addresses; i++) {
        char json[256];
        snprintf(json, sizeof json, O T "{\"address\":%s}}]}", bad_addresses[i]);
        CHECK(refused(json, "tenant t: printer address must be host:port, such as 192.168.1.50:9100"));
    }
    CHECK(refused(O T "{\"cups\":\"a b\"}}]}", "tenant t: cups must be a CUPS queue name (letters, digits . _ -)"));
    CHECK(refused(O T "{\"address\":\"h\",\"width\":10}}]}",
                  "tenant t: printer width must be 24-64 characters (42 for 80 mm paper)"));
    CHECK(refused(O T "{\"address\":\"h\",\"codepage\":\"utf8\"}}]}",
                  "tenant t: printer codepage must be cp437, cp850, cp858 or cp1252"));
    CHECK(refused(O T "{\"address\":\"h\",\"mode\":\"sometimes\"}}]}",
                  "tenant t: printer mode must be backup, always or off"));
    CHECK(refused(O T "\"h\"}]}", "tenant t: printer must be an object"));
    CHECK(refused(O "\"tenants\":[{\"id\":\"t\",\"stations\":[{\"id\":\"bar\",\"printer\":{\"address\":\"h\",\"from_screen\":1}}]}]}",
                  "station t/bar: printer from_screen must be true or false"));
#undef T
#undef O
}

int main(void)
{
    test_registry_stations_and_roles();
    test_registry_refusals();
    test_assign_stations();
    test_item_station();
    test_station_move();
    test_stations_follow();
    test_topics();
    test_station_reports();
    test_iso_times();
    test_registry_printers();
    return check_report();
}
