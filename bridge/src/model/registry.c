/* registry.c - parsing and checking the tenant registry (see registry.h). */
#include "registry.h"

#include "charset.h"
#include "duration.h"
#include "errbuf.h"
#include "escpos.h"
#include "json_util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bridge's own broker account; no registry entry may take it. */
#define BRIDGE_USERNAME "kb-bridge"
#define REGISTRY_MAX_BYTES (4 * 1024 * 1024)

int registry_id_valid(const char *s) { return charset_is(s, REGISTRY_ID_MAX, CHARSET_LOWER | CHARSET_DIGITS, "_-"); }

const char *device_role_name(device_role role)
{
    switch (role) {
    case DEVICE_POS: return "pos";
    case DEVICE_KITCHEN: return "kitchen";
    case DEVICE_EXPO: return "expo";
    case DEVICE_BOARD: return "board";
    default: return "admin";
    }
}

static const char *get_string(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Copies a display name: printable, at most REGISTRY_NAME_MAX bytes. */
static int copy_name(char *dst, const char *src, const char *what, char *err, size_t errlen)
{
    if (!src) return errbuf_set(err, errlen, "%s: name must be a string", what);
    size_t n = strlen(src);
    if (n > REGISTRY_NAME_MAX) return errbuf_set(err, errlen, "%s: name is too long", what);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)src[i] < 0x20 || src[i] == 0x7f)
            return errbuf_set(err, errlen, "%s: name contains control characters", what);
    memcpy(dst, src, n + 1);
    return 0;
}

/* Adds a device; returns it, or NULL with err set. */
static registry_device *add_device(registry *r, const char *username, device_role role, int tenant,
                                   char *err, size_t errlen)
{
    if (!username || !registry_id_valid(username)) {
        errbuf_set(err, errlen, "device username must be 1-%d characters of a-z 0-9 _ -", REGISTRY_ID_MAX);
        return NULL;
    }
    if (strcmp(username, BRIDGE_USERNAME) == 0) {
        errbuf_set(err, errlen, "username %s is reserved for the bridge", BRIDGE_USERNAME);
        return NULL;
    }
    if (registry_find_device(r, username)) {
        errbuf_set(err, errlen, "device %s is listed twice", username);
        return NULL;
    }
    registry_device *d = &r->devices[r->n_devices++];
    memcpy(d->username, username, strlen(username) + 1);
    d->role = role;
    d->tenant = tenant;
    d->station = -1;
    return d;
}

/* "printer": {"address": "host[:port]" | "cups": "queue", "width", "codepage",
 * "mode", "from_screen"}; absent: none. */
static int parse_printer(registry_printer *p, const cJSON *v, const char *what, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (!v) return 0;
    if (!cJSON_IsObject(v)) return errbuf_set(err, errlen, "%s: printer must be an object", what);
    const char *address = get_string(v, "address"), *cups = get_string(v, "cups");
    if (!address == !cups)
        return errbuf_set(err, errlen, "%s: a printer needs an \"address\" (\"192.168.1.50:9100\") or a \"cups\" queue, "
                          "not both", what);
    if (address) {
        size_t n = strlen(address);
        const char *colon = strrchr(address, ':');
        if (n == 0 || n >= sizeof p->address - 6 || colon == address ||
            !charset_is(address, REGISTRY_ADDRESS_MAX, CHARSET_LOWER | CHARSET_UPPER | CHARSET_DIGITS, ".-:_"))
            return errbuf_set(err, errlen, "%s: printer address must be host:port, such as 192.168.1.50:9100", what);
        if (colon) {
            char *end;
            long port = strtol(colon + 1, &end, 10);
            if (*end || port < 1 || port > 65535 || strchr(address, ':') != colon)
                return errbuf_set(err, errlen, "%s: printer address must be host:port, such as 192.168.1.50:9100",
                                  what);
            memcpy(p->address, address, n + 1);
        } else {
            snprintf(p->address, sizeof p->address, "%s:9100", address);
        }
    } else if (!charset_is(cups, REGISTRY_ID_MAX * 2, CHARSET_LOWER | CHARSET_UPPER | CHARSET_DIGITS, "._-")) {
        return errbuf_set(err, errlen, "%s: cups must be a CUPS queue name (letters, digits . _ -)", what);
    } else {
        memcpy(p->cups, cups, strlen(cups) + 1);
    }
    const cJSON *width = cJSON_GetObjectItemCaseSensitive(v, "width");
    p->width = 42;
    if (width && (!cJSON_IsNumber(width) || width->valuedouble != (int)width->valuedouble ||
                  width->valueint < ESCPOS_WIDTH_MIN || width->valueint > ESCPOS_WIDTH_MAX))
        return errbuf_set(err, errlen, "%s: printer width must be %d-%d characters (42 for 80 mm paper)", what,
                          ESCPOS_WIDTH_MIN, ESCPOS_WIDTH_MAX);
    if (width) p->width = width->valueint;
    const char *cp = get_string(v, "codepage");
    if (cJSON_GetObjectItemCaseSensitive(v, "codepage") && (!cp || !escpos_codepage_find(cp)))
        return errbuf_set(err, errlen, "%s: printer codepage must be cp437, cp850, cp858 or cp1252", what);
    snprintf(p->codepage, sizeof p->codepage, "%s", cp ? cp : "cp858");
    const char *mode = get_string(v, "mode");
    if (!cJSON_GetObjectItemCaseSensitive(v, "mode") || (mode && strcmp(mode, "backup") == 0)) p->mode = PRINT_BACKUP;
    else if (mode && strcmp(mode, "always") == 0) p->mode = PRINT_ALWAYS;
    else if (mode && strcmp(mode, "off") == 0) p->mode = PRINT_OFF;
    else return errbuf_set(err, errlen, "%s: printer mode must be backup, always or off", what);
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(v, "from_screen");
    if (fs && !cJSON_IsBool(fs)) return errbuf_set(err, errlen, "%s: printer from_screen must be true or false", what);
    p->from_screen = fs ? cJSON_IsTrue(fs) : 1;
    p->set = 1;
    return 0;
}

static int parse_stations(registry_tenant *rt, const cJSON *t, char *err, size_t errlen)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(t, "stations");
    if (!st) return 0;
    if (!cJSON_IsArray(st) || cJSON_GetArraySize(st) < 1)
        return errbuf_set(err, errlen, "tenant %s: stations must be a non-empty array of ids", rt->id);
    if (cJSON_GetArraySize(st) > REGISTRY_STATIONS_MAX)
        return errbuf_set(err, errlen, "tenant %s: at most %d stations", rt->id, REGISTRY_STATIONS_MAX);
    const cJSON *s;
    cJSON_ArrayForEach(s, st) {
        const char *id = cJSON_IsObject(s) ? get_string(s, "id") : cJSON_IsString(s) ? s->valuestring : NULL;
        if (!id || !registry_id_valid(id))
            return errbuf_set(err, errlen,
                              "tenant %s: a station must be 1-%d characters of a-z 0-9 _ -, or {\"id\": ..., "
                              "\"printer\": {...}}",
                              rt->id, REGISTRY_ID_MAX);
        if (registry_station_index(rt, id) >= 0)
            return errbuf_set(err, errlen, "tenant %s: station %s is listed twice", rt->id, id);
        char what[2 * REGISTRY_ID_MAX + 16];
        snprintf(what, sizeof what, "station %s/%s", rt->id, id);
        if (cJSON_IsObject(s) &&
            parse_printer(&rt->station_printers[rt->n_stations], cJSON_GetObjectItemCaseSensitive(s, "printer"), what,
                          err, errlen))
            return -1;
        memcpy(rt->stations[rt->n_stations++], id, strlen(id) + 1);
    }
    return 0;
}

static int parse_tenant(registry *r, const cJSON *t, char *err, size_t errlen)
{
    const char *id = get_string(t, "id");
    if (!id || !registry_id_valid(id))
        return errbuf_set(err, errlen, "tenant id must be 1-%d characters of a-z 0-9 _ -", REGISTRY_ID_MAX);
    if (registry_find_tenant(r, id)) return errbuf_set(err, errlen, "tenant %s is listed twice", id);
    int index = (int)r->n_tenants;
    registry_tenant *rt = &r->tenants[r->n_tenants++];
    memcpy(rt->id, id, strlen(id) + 1);
    const char *name = get_string(t, "name");
    if (copy_name(rt->name, name ? name : id, id, err, errlen)) return -1;
    if (parse_stations(rt, t, err, errlen)) return -1;
    char what[REGISTRY_ID_MAX + 16];
    snprintf(what, sizeof what, "tenant %s", id);
    if (parse_printer(&rt->printer, cJSON_GetObjectItemCaseSensitive(t, "printer"), what, err, errlen)) return -1;
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(t, "board_names");
    if (names && !cJSON_IsBool(names)) return errbuf_set(err, errlen, "tenant %s: board_names must be true or false", id);
    rt->board_names = cJSON_IsTrue(names);
    const cJSON *late = cJSON_GetObjectItemCaseSensitive(t, "late_after");
    rt->late_after_ms = REGISTRY_LATE_AFTER_DEFAULT_MS;
    if (late && (!cJSON_IsString(late) || duration_parse(late->valuestring, &rt->late_after_ms) != 0 ||
                 rt->late_after_ms <= 0))
        return errbuf_set(err, errlen, "tenant %s: late_after must be a duration such as \"10m\"", id);

    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(t, "devices");
    if (devs && !cJSON_IsArray(devs)) return errbuf_set(err, errlen, "tenant %s: devices must be an array", id);
    const cJSON *d;
    cJSON_ArrayForEach(d, devs) {
        const char *role = get_string(d, "role");
        device_role dr;
        if (role && strcmp(role, "pos") == 0) dr = DEVICE_POS;
        else if (role && strcmp(role, "kitchen") == 0) dr = DEVICE_KITCHEN;
        else if (role && strcmp(role, "expo") == 0) dr = DEVICE_EXPO;
        else return errbuf_set(err, errlen, "tenant %s: device role must be pos, kitchen or expo", id);
        registry_device *dev = add_device(r, get_string(d, "username"), dr, index, err, errlen);
        if (!dev) return -1;
        const cJSON *station = cJSON_GetObjectItemCaseSensitive(d, "station");
        if (!station) continue;
        if (dr != DEVICE_KITCHEN)
            return errbuf_set(err, errlen, "device %s: only a kitchen device may be bound to a station", dev->username);
        dev->station = cJSON_IsString(station) ? registry_station_index(rt, station->valuestring) : -1;
        if (dev->station < 0)
            return errbuf_set(err, errlen, "device %s: station must be one of tenant %s's stations", dev->username, id);
    }
    return 0;
}

/* {"username": "court-board", "tenants": "*" | ["pizza", ...]}, after the tenants. */
static int parse_board(registry *r, const cJSON *b, char *err, size_t errlen)
{
    registry_device *d = add_device(r, get_string(b, "username"), DEVICE_BOARD, -1, err, errlen);
    if (!d) return -1;
    const cJSON *tenants = cJSON_GetObjectItemCaseSensitive(b, "tenants");
    if (cJSON_IsString(tenants) && strcmp(tenants->valuestring, "*") == 0) {
        d->board_all = 1;
        return 0;
    }
    if (!cJSON_IsArray(tenants) || cJSON_GetArraySize(tenants) < 1)
        return errbuf_set(err, errlen, "board %s: tenants must be \"*\" or a non-empty list of tenant ids", d->username);
    if (cJSON_GetArraySize(tenants) > REGISTRY_BOARD_TENANTS_MAX)
        return errbuf_set(err, errlen, "board %s: list at most %d tenants, or \"*\" for all", d->username,
                     REGISTRY_BOARD_TENANTS_MAX);
    d->board_tenants = calloc((size_t)cJSON_GetArraySize(tenants), sizeof *d->board_tenants);
    if (!d->board_tenants) return errbuf_set(err, errlen, "out of memory");
    const cJSON *t;
    cJSON_ArrayForEach(t, tenants) {
        const registry_tenant *rt = cJSON_IsString(t) ? registry_find_tenant(r, t->valuestring) : NULL;
        if (!rt) return errbuf_set(err, errlen, "board %s: tenants must name tenants of this registry", d->username);
        d->board_tenants[d->n_board_tenants++] = (int)(rt - r->tenants);
    }
    return 0;
}

static int parse_doc(registry *r, const cJSON *doc, char *err, size_t errlen)
{
    const cJSON *outlet = cJSON_GetObjectItemCaseSensitive(doc, "outlet");
    const char *oid = get_string(outlet, "id");
    if (!oid || !registry_id_valid(oid))
        return errbuf_set(err, errlen, "outlet.id must be 1-%d characters of a-z 0-9 _ -", REGISTRY_ID_MAX);
    memcpy(r->outlet_id, oid, strlen(oid) + 1);
    const char *oname = get_string(outlet, "name");
    if (copy_name(r->outlet_name, oname ? oname : oid, "outlet", err, errlen)) return -1;

    r->demo = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "demo"));
    const char *legacy = get_string(cJSON_GetObjectItemCaseSensitive(doc, "legacy"), "mode");
    if (legacy && strcmp(legacy, "open") == 0) r->legacy_open = 1;
    else if (legacy && strcmp(legacy, "authenticated") != 0)
        return errbuf_set(err, errlen, "legacy.mode must be authenticated or open");

    const cJSON *tenants = cJSON_GetObjectItemCaseSensitive(doc, "tenants");
    const cJSON *admins = cJSON_GetObjectItemCaseSensitive(doc, "admins");
    const cJSON *boards = cJSON_GetObjectItemCaseSensitive(doc, "boards");
    if (!cJSON_IsArray(tenants)) return errbuf_set(err, errlen, "tenants must be an array");
    if (admins && !cJSON_IsArray(admins)) return errbuf_set(err, errlen, "admins must be an array");
    if (boards && !cJSON_IsArray(boards)) return errbuf_set(err, errlen, "boards must be an array");

    size_t n_tenants = (size_t)cJSON_GetArraySize(tenants), n_devices = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tenants) {
        const cJSON *devs = cJSON_GetObjectItemCaseSensitive(t, "devices");
        n_devices += cJSON_IsArray(devs) ? (size_t)cJSON_GetArraySize(devs) : 0;
    }
    n_devices += admins ? (size_t)cJSON_GetArraySize(admins) : 0;
    n_devices += boards ? (size_t)cJSON_GetArraySize(boards) : 0;
    r->tenants = calloc(n_tenants ? n_tenants : 1, sizeof *r->tenants);
    r->devices = calloc(n_devices ? n_devices : 1, sizeof *r->devices);
    if (!r->tenants || !r->devices) return errbuf_set(err, errlen, "out of memory");

    cJSON_ArrayForEach(t, tenants)
        if (parse_tenant(r, t, err, errlen)) return -1;
    const cJSON *a;
    cJSON_ArrayForEach(a, admins)
        if (!add_device(r, get_string(a, "username"), DEVICE_ADMIN, -1, err, errlen)) return -1;
    cJSON_ArrayForEach(a, boards)
        if (parse_board(r, a, err, errlen)) return -1;
    return 0;
}

int registry_parse(const char *text, size_t len, registry **out, char *err, size_t errlen)
{
    cJSON *doc = json_parse_exact(text, len);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return errbuf_set(err, errlen, "registry is not a JSON object");
    }
    registry *r = calloc(1, sizeof *r);
    if (!r) {
        cJSON_Delete(doc);
        return errbuf_set(err, errlen, "out of memory");
    }
    int rc = parse_doc(r, doc, err, errlen);
    cJSON_Delete(doc);
    if (rc) {
        registry_free(r);
        return -1;
    }
    registry_version_of(text, len, r->version);
    *out = r;
    return 0;
}

void registry_version_of(const char *text, size_t len, char buf[17])
{
    unsigned long long h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)text[i]) * 0x100000001b3ULL;
    snprintf(buf, 17, "%016llx", h);
}

int registry_load(const char *path, registry **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) return errbuf_set(err, errlen, "cannot open it (%s)", strerror(errno));
    char *buf = malloc(REGISTRY_MAX_BYTES);
    size_t n = buf ? fread(buf, 1, REGISTRY_MAX_BYTES, f) : 0;
    int too_big = buf && n == REGISTRY_MAX_BYTES;
    fclose(f);
    int rc;
    if (!buf) rc = errbuf_set(err, errlen, "out of memory");
    else if (too_big) rc = errbuf_set(err, errlen, "larger than %d bytes", REGISTRY_MAX_BYTES);
    else rc = registry_parse(buf, n, out, err, errlen);
    free(buf);
    return rc;
}

void registry_free(registry *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_devices; i++) free(r->devices[i].board_tenants);
    free(r->tenants);
    free(r->devices);
    free(r);
}

const registry_device *registry_find_device(const registry *r, const char *username)
{
    for (size_t i = 0; i < r->n_devices; i++)
        if (strcmp(r->devices[i].username, username) == 0) return &r->devices[i];
    return NULL;
}

const registry_tenant *registry_find_tenant(const registry *r, const char *id)
{
    for (size_t i = 0; i < r->n_tenants; i++)
        if (strcmp(r->tenants[i].id, id) == 0) return &r->tenants[i];
    return NULL;
}

const registry_tenant *registry_tenant_of(const registry *r, const registry_device *d)
{
    return d->tenant >= 0 && (size_t)d->tenant < r->n_tenants ? &r->tenants[d->tenant] : NULL;
}

const char *registry_device_station(const registry *r, const registry_device *d)
{
    const registry_tenant *t = registry_tenant_of(r, d);
    return t && d->station >= 0 && d->station < t->n_stations ? t->stations[d->station] : NULL;
}

int registry_station_index(const registry_tenant *t, const char *station)
{
    for (int i = 0; i < t->n_stations; i++)
        if (strcmp(t->stations[i], station) == 0) return i;
    return -1;
}

int registry_printer_key(char *buf, size_t len, const registry_tenant *t, int station)
{
    int n = station >= 0 && station < t->n_stations ? snprintf(buf, len, "%s/%s", t->id, t->stations[station])
                                                    : snprintf(buf, len, "%s", t->id);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

const char *print_mode_name(print_mode m)
{
    switch (m) {
    case PRINT_ALWAYS: return "always";
    case PRINT_OFF: return "off";
    default: return "backup";
    }
}

int registry_board_shows(const registry_device *d, int tenant)
{
    if (d->role != DEVICE_BOARD) return 0;
    if (d->board_all) return 1;
    for (size_t i = 0; i < d->n_board_tenants; i++)
        if (d->board_tenants[i] == tenant) return 1;
    return 0;
}
