/* kb_device.c - kb-device: gives a device of a production registry a fresh
 * password in the broker's dynamic-security store, adding the device to the
 * registry first if asked.
 *
 *   kb-device <registry.json> <bridge.pw> <host> <port> <tenant> <username> <pos|kitchen|expo>
 *   kb-device <registry.json> <bridge.pw> <host> <port> <tenant> <username> kitchen --station <station>
 *   kb-device <registry.json> <bridge.pw> <host> <port> --board <username> [--tenants "*"|<tenant>,...]
 *   kb-device <registry.json> <bridge.pw> <host> <port> --set-password <username>
 *
 * Run by `kitchen-bus add-device` and `kitchen-bus set-password`, so an
 * outlet needs no Node.js. Every role of the registry can be added: a pos, a
 * whole-order kitchen, a kitchen bound to one of its tenant's "stations", an
 * expo, and an outlet-level pickup board ("boards", every tenant by default).
 * The registry is checked with the bridge's own parser (registry.c, through
 * kb_model), before and after the change, so a registry the bridge would
 * refuse is refused here too, and demo registries are refused. One
 * dynamic-security command goes to the broker as the bridge's account
 * (kb-bridge, its password read from <bridge.pw>).
 *
 * A new device is saved as the bridge saves a registry change: the new
 * registry goes to <registry.json>.tmp and is fsynced, the current file is
 * kept as <registry.json>.bak (a hard link, or a copy where links fail, made
 * under <registry.json>.bak.tmp-bak and renamed over the old .bak), the .tmp
 * is renamed over the registry and the directory is fsynced; the new file
 * keeps the old one's mode. Everything that can
 * fail is done before the broker client is created; only the renames come
 * after it, so a broker failure leaves the registry (and its .bak) untouched.
 * The password (18 random bytes, base64url) is printed once on stdout and
 * stored only as the broker's salted hash; it never goes on a command line or
 * into a log. Every error is one line "kitchen-bus: <message>" on stderr,
 * exit status 1. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mosquitto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json_util.h"
#include "registry.h"
#include "topics.h"

/* The bridge's own broker account (registry.c refuses it as a device). */
#define BRIDGE_USERNAME "kb-bridge"
#define TEXTNAME "kitchen-bus"
#define PASSWORD_BYTES 18
#define PASSWORD_CHARS 24 /* base64url of 18 bytes, no padding */
#define REGISTRY_MAX_BYTES (4 * 1024 * 1024)
#define SECRET_MAX_BYTES 4096
#define DEADLINE_MS 10000
#define USAGE "usage: kb-device <registry.json> <bridge.pw> <host> <port> " \
              "(<tenant> <username> pos|kitchen|expo | <tenant> <username> kitchen --station <station> | " \
              "--board <username> [--tenants \"*\"|<tenant>,...] | --set-password <username>)"

typedef struct {
    /* arguments */
    const char *file, *pw_file, *host, *tenant, *username, *role;
    const char *station; /* kitchen --station */
    const char *tenants; /* --board ... --tenants; NULL: "*" */
    int port, resetting, board;
    char url[300];
    /* state, all released by cleanup() */
    char *text;
    size_t text_len;
    cJSON *doc;
    registry *reg;
    cJSON *board_tenants; /* a board's "tenants" until it is in doc */
    char *out;            /* the new registry's text */
    size_t out_len;
    registry *new_reg;    /* ... as the bridge parses it */
    char *bridge_pw;
    char password[PASSWORD_CHARS + 1];
    char correlation[64];
    char *command;
    char *tmp_path, *bak_path, *bak_tmp_path;
    int tmp_exists, bak_tmp_exists;
    mode_t mode; /* the registry file's, given to the new one and a copied .bak */
    int keep_tmp; /* the broker has the device: the .tmp is the registry to put in place by hand */
    char err[8192];
} ctx;

typedef struct {
    ctx *c;
    const char *command_name;
    int sub_mid;
    int connected, done, failed;
    char *reply_error; /* the broker's "error" text, if it refused */
} dynsec_call;

__attribute__((format(printf, 2, 3)))
static int fail(ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* Reads a whole file of at most `max` bytes, NUL-terminated. */
static int read_all(ctx *c, const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return fail(c, "cannot read %s: %s", path, strerror(errno));
    char *buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        return fail(c, "out of memory");
    }
    size_t n = fread(buf, 1, max + 1, f);
    int bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (bad || n > max) {
        explicit_bzero(buf, n);
        free(buf);
        if (bad) return fail(c, "cannot read %s: %s", path, strerror(saved));
        return fail(c, "%s is larger than %zu bytes", path, max);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int parse_args(ctx *c, int argc, char **argv)
{
    const char *form = argc > 5 ? argv[5] : "";
    if (argc == 7 && strcmp(form, "--set-password") == 0) {
        c->resetting = 1;
        c->username = argv[6];
    } else if ((argc == 7 || argc == 9) && strcmp(form, "--board") == 0) {
        c->board = 1;
        c->username = argv[6];
        c->role = "board";
        if (argc == 9 && strcmp(argv[7], "--tenants") != 0) return fail(c, USAGE);
        if (argc == 9) c->tenants = argv[8];
    } else if ((argc == 8 || argc == 10) && strncmp(form, "--", 2) != 0) {
        c->tenant = argv[5];
        c->username = argv[6];
        c->role = argv[7];
        if (argc == 10 && strcmp(argv[8], "--station") != 0) return fail(c, USAGE);
        if (argc == 10) c->station = argv[9];
    } else {
        return fail(c, USAGE);
    }
    c->file = argv[1];
    c->pw_file = argv[2];
    c->host = argv[3];
    char *end;
    errno = 0;
    long port = strtol(argv[4], &end, 10);
    if (errno || end == argv[4] || *end || port < 1 || port > 65535)
        return fail(c, "the MQTT port must be a number from 1 to 65535, not \"%s\"", argv[4]);
    c->port = (int)port;
    int ipv6 = strchr(c->host, ':') != NULL;
    snprintf(c->url, sizeof c->url, "mqtt://%s%s%s:%d", ipv6 ? "[" : "", c->host, ipv6 ? "]" : "", c->port);

    if (!registry_id_valid(c->username))
        return fail(c, "username must be 1-%d characters of a-z 0-9 _ -", REGISTRY_ID_MAX);
    if (strcmp(c->username, BRIDGE_USERNAME) == 0)
        return fail(c, "%s is the bridge's own account", BRIDGE_USERNAME);
    if (c->resetting || c->board) return 0;
    if (strcmp(c->role, "pos") != 0 && strcmp(c->role, "kitchen") != 0 && strcmp(c->role, "expo") != 0)
        return fail(c, "role must be pos, kitchen or expo (a pickup board: add-device --board %s)", c->username);
    if (c->station && strcmp(c->role, "kitchen") != 0)
        return fail(c, "only a kitchen device may be bound to a station: drop --station, or make %s a kitchen",
                    c->username);
    if (c->station && !registry_id_valid(c->station))
        return fail(c, "a station must be 1-%d characters of a-z 0-9 _ -", REGISTRY_ID_MAX);
    return 0;
}

/* Lists tenant t's stations, ", "-separated, into buf. */
static void list_stations(const registry_tenant *t, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->n_stations && n < len; i++) {
        int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "", t->stations[i]);
        if (w < 0) break;
        n += (size_t)w;
    }
}

/* A kitchen's station: one of its tenant's "stations". */
static int check_station(ctx *c, const registry_tenant *t)
{
    if (!c->station) return 0;
    if (t->n_stations == 0)
        return fail(c, "tenant %s has no stations; add \"stations\": [\"%s\"] to tenant %s in %s first",
                    t->id, c->station, t->id, c->file);
    if (registry_station_index(t, c->station) >= 0) return 0;
    char have[REGISTRY_STATIONS_MAX * (REGISTRY_ID_MAX + 2) + 1];
    list_stations(t, have, sizeof have);
    return fail(c, "tenant %s has no station \"%s\" (its stations: %s); add it to tenant %s's \"stations\" in %s first",
                t->id, c->station, have, t->id, c->file);
}

/* A board's --tenants: "*" (the default), or tenant ids separated by commas
 * (spaces around them allowed), each a tenant of the registry, once. */
static int check_board_tenants(ctx *c)
{
    const char *list = c->tenants ? c->tenants : "*";
    if (strcmp(list, "*") == 0) {
        c->board_tenants = cJSON_CreateString("*");
        return c->board_tenants ? 0 : fail(c, "out of memory");
    }
    c->board_tenants = cJSON_CreateArray();
    if (!c->board_tenants) return fail(c, "out of memory");
    const char *p = list;
    for (;;) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, ",");
        size_t k = n;
        while (k > 0 && p[k - 1] == ' ') k--;
        char id[REGISTRY_ID_MAX + 1];
        if (k == 0 || k > REGISTRY_ID_MAX)
            return fail(c, "--tenants must be \"*\" or tenant ids separated by commas, not \"%s\"", list);
        memcpy(id, p, k);
        id[k] = '\0';
        if (!registry_find_tenant(c->reg, id))
            return fail(c, "no tenant \"%s\" in %s (a board's --tenants: \"*\" or tenant ids separated by commas)",
                        id, c->file);
        const cJSON *e;
        cJSON_ArrayForEach(e, c->board_tenants)
            if (strcmp(e->valuestring, id) == 0) return fail(c, "--tenants names %s twice", id);
        if (cJSON_GetArraySize(c->board_tenants) >= REGISTRY_BOARD_TENANTS_MAX)
            return fail(c, "a board lists at most %d tenants; use --tenants \"*\" for all", REGISTRY_BOARD_TENANTS_MAX);
        cJSON *s = cJSON_CreateString(id);
        if (!s || !cJSON_AddItemToArray(c->board_tenants, s)) {
            cJSON_Delete(s);
            return fail(c, "out of memory");
        }
        if (!p[n]) return 0;
        p += n + 1;
    }
}

/* Loads the registry (as the bridge would) and checks the request against it. */
static int check_registry(ctx *c)
{
    size_t len;
    if (read_all(c, c->file, REGISTRY_MAX_BYTES, &c->text, &len)) return -1;
    c->text_len = len;
    c->doc = json_parse_exact(c->text, len);
    if (!c->doc) return fail(c, "%s is not valid JSON", c->file);
    char why[256];
    if (registry_parse(c->text, len, &c->reg, why, sizeof why))
        return fail(c, "%s is not a valid registry: %s", c->file, why);
    if (c->reg->demo)
        return fail(c, "%s is a demo registry (password = username); copy it and set \"demo\": false first",
                    c->file);
    const registry_device *known = registry_find_device(c->reg, c->username);
    if (c->resetting) {
        if (!known) return fail(c, "no device called \"%s\" in %s", c->username, c->file);
        return 0;
    }
    const registry_tenant *t = c->board ? NULL : registry_find_tenant(c->reg, c->tenant);
    if (!c->board && !t) return fail(c, "no tenant \"%s\" in %s", c->tenant, c->file);
    if (known)
        return fail(c, "a device called \"%s\" already exists (to give it a new password: "
                       "kitchen-bus set-password %s)", c->username, c->username);
    return c->board ? check_board_tenants(c) : check_station(c, t);
}

/* The bridge's broker password: the file's text without surrounding whitespace. */
static int read_bridge_password(ctx *c)
{
    size_t len;
    if (read_all(c, c->pw_file, SECRET_MAX_BYTES, &c->bridge_pw, &len)) return -1;
    size_t start = 0;
    while (start < len && isspace((unsigned char)c->bridge_pw[start])) start++;
    while (len > start && isspace((unsigned char)c->bridge_pw[len - 1])) len--;
    memmove(c->bridge_pw, c->bridge_pw + start, len - start);
    explicit_bzero(c->bridge_pw + (len - start), start + 1);
    if (len == start) return fail(c, "%s is empty", c->pw_file);
    return 0;
}

static int random_bytes(ctx *c, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && errno == ENOSYS) {
            FILE *f = fopen("/dev/urandom", "rb");
            size_t m = f ? fread(buf + got, 1, n - got, f) : 0;
            if (f) fclose(f);
            if (got + m != n) return fail(c, "cannot read /dev/urandom");
            got = n;
        } else {
            return fail(c, "no random numbers: %s", strerror(errno));
        }
    }
    return 0;
}

static void base64url(const unsigned char *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
        out[o++] = abc[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
    }
    out[o] = '\0';
}

/* The password, a correlation id for the broker's reply, and the command. */
static int make_command(ctx *c)
{
    unsigned char raw[PASSWORD_BYTES], tag[6];
    if (random_bytes(c, raw, sizeof raw) || random_bytes(c, tag, sizeof tag)) return -1;
    base64url(raw, sizeof raw, c->password);
    explicit_bzero(raw, sizeof raw);
    char tag64[9];
    base64url(tag, sizeof tag, tag64);
    snprintf(c->correlation, sizeof c->correlation, "kb-device-%ld-%s", (long)getpid(), tag64);

    cJSON *msg = cJSON_CreateObject();
    cJSON *cmds = cJSON_AddArrayToObject(msg, "commands");
    cJSON *cmd = cJSON_CreateObject();
    int ok = cmds && cmd && cJSON_AddItemToArray(cmds, cmd);
    if (!ok) {
        cJSON_Delete(cmd);
        cmd = NULL;
    }
    ok = ok && cJSON_AddStringToObject(cmd, "command", c->resetting ? "setClientPassword" : "createClient");
    ok = ok && cJSON_AddStringToObject(cmd, "username", c->username);
    ok = ok && cJSON_AddStringToObject(cmd, "password", c->password);
    if (!c->resetting) ok = ok && cJSON_AddStringToObject(cmd, "textname", TEXTNAME);
    ok = ok && cJSON_AddStringToObject(cmd, "correlationData", c->correlation);
    if (ok) c->command = cJSON_PrintUnformatted(msg);
    /* The tree holds a copy of the password: wipe it before it is freed. */
    const cJSON *pw = cmd ? cJSON_GetObjectItemCaseSensitive(cmd, "password") : NULL;
    if (cJSON_IsString(pw)) explicit_bzero(pw->valuestring, strlen(pw->valuestring));
    cJSON_Delete(msg);
    return c->command ? 0 : fail(c, "out of memory");
}

/* ---- the registry file ----------------------------------------------- */

static int print_json(FILE *f, const cJSON *item, int depth);

static int print_leaf(FILE *f, const cJSON *item)
{
    char *s = cJSON_PrintUnformatted(item);
    if (!s) return -1;
    int rc = fputs(s, f) < 0 ? -1 : 0;
    cJSON_free(s);
    return rc;
}

/* Writes item as JSON.stringify(item, null, 2) does: 2-space indents,
 * "key": value, and [] / {} for empty containers. */
static int print_json(FILE *f, const cJSON *item, int depth)
{
    int object = cJSON_IsObject(item);
    if (!object && !cJSON_IsArray(item)) return print_leaf(f, item);
    if (!item->child) return fputs(object ? "{}" : "[]", f) < 0 ? -1 : 0;
    if (fputc(object ? '{' : '[', f) == EOF) return -1;
    for (const cJSON *e = item->child; e; e = e->next) {
        if (fprintf(f, "\n%*s", 2 * (depth + 1), "") < 0) return -1;
        if (object) {
            cJSON *key = cJSON_CreateStringReference(e->string ? e->string : "");
            int rc = key ? print_leaf(f, key) : -1;
            cJSON_Delete(key);
            if (rc || fputs(": ", f) < 0) return -1;
        }
        if (print_json(f, e, depth + 1)) return -1;
        if (e->next && fputc(',', f) == EOF) return -1;
    }
    return fprintf(f, "\n%*s%c", 2 * depth, "", object ? '}' : ']') < 0 ? -1 : 0;
}

/* Appends a board to the document's "boards" (made if it has none). */
static int append_board(ctx *c)
{
    cJSON *boards = cJSON_GetObjectItemCaseSensitive(c->doc, "boards");
    if (!boards) boards = cJSON_AddArrayToObject(c->doc, "boards");
    cJSON *b = cJSON_CreateObject();
    if (!boards || !b || !cJSON_AddItemToArray(boards, b)) {
        cJSON_Delete(b);
        return fail(c, "out of memory");
    }
    if (!cJSON_AddStringToObject(b, "username", c->username) ||
        !cJSON_AddItemToObject(b, "tenants", c->board_tenants))
        return fail(c, "out of memory");
    c->board_tenants = NULL; /* b owns it now */
    return 0;
}

/* Appends the new device to its tenant (a board: to the outlet's boards) in
 * the parsed document. */
static int append_device(ctx *c)
{
    if (c->board) return append_board(c);
    const cJSON *tenants = cJSON_GetObjectItemCaseSensitive(c->doc, "tenants");
    cJSON *t;
    cJSON_ArrayForEach(t, tenants) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "id");
        if (cJSON_IsString(id) && strcmp(id->valuestring, c->tenant) == 0) break;
    }
    if (!t) return fail(c, "no tenant \"%s\" in %s", c->tenant, c->file);
    cJSON *devices = cJSON_GetObjectItemCaseSensitive(t, "devices");
    if (!devices) devices = cJSON_AddArrayToObject(t, "devices");
    cJSON *d = cJSON_CreateObject();
    if (!devices || !d || !cJSON_AddItemToArray(devices, d)) {
        cJSON_Delete(d);
        return fail(c, "out of memory");
    }
    if (!cJSON_AddStringToObject(d, "username", c->username) || !cJSON_AddStringToObject(d, "role", c->role) ||
        (c->station && !cJSON_AddStringToObject(d, "station", c->station)))
        return fail(c, "out of memory");
    return 0;
}

/* The new registry's text, checked with the bridge's parser: what is saved
 * is what the bridge will load. */
static int render_registry(ctx *c)
{
    FILE *f = open_memstream(&c->out, &c->out_len);
    if (!f) return fail(c, "out of memory");
    int rc = print_json(f, c->doc, 0);
    if (!rc) rc = fputc('\n', f) == EOF ? -1 : 0;
    if (fclose(f)) rc = -1;
    if (rc) return fail(c, "out of memory");
    if (c->out_len >= REGISTRY_MAX_BYTES)
        return fail(c, "%s would be larger than %d bytes with %s", c->file, REGISTRY_MAX_BYTES, c->username);
    char why[256];
    if (registry_parse(c->out, c->out_len, &c->new_reg, why, sizeof why))
        return fail(c, "%s with %s would not be a valid registry: %s", c->file, c->username, why);
    if (!registry_find_device(c->new_reg, c->username))
        return fail(c, "%s with %s does not list it", c->file, c->username);
    return 0;
}

static char *path_with(ctx *c, const char *suffix)
{
    size_t n = strlen(c->file) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s", c->file, suffix);
    else fail(c, "out of memory");
    return p;
}

/* Creates `path` (replacing a file left there), writes text to it with
 * `mode` and syncs it to disk; *exists is set once the file is there. */
static int write_synced(ctx *c, const char *path, const char *text, size_t len, mode_t mode, int *exists)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) return fail(c, "cannot write %s: %s", path, strerror(errno));
    *exists = 1;
    int rc = fchmod(fd, mode);
    for (size_t done = 0; !rc && done < len;) {
        ssize_t w = write(fd, text + done, len - done);
        if (w > 0) done += (size_t)w;
        else if (w < 0 && errno == EINTR) continue;
        else rc = -1;
    }
    if (!rc) rc = fsync(fd);
    int saved = errno;
    if (close(fd) && !rc) {
        rc = -1;
        saved = errno;
    }
    if (rc) return fail(c, "cannot write %s: %s", path, strerror(saved ? saved : EIO));
    return 0;
}

/* Writes the new registry to <file>.tmp, with the current file's mode, and
 * syncs it to disk. */
static int write_tmp(ctx *c)
{
    struct stat st;
    if (stat(c->file, &st)) return fail(c, "cannot read %s: %s", c->file, strerror(errno));
    c->mode = st.st_mode & 07777;
    c->tmp_path = path_with(c, ".tmp");
    if (!c->tmp_path) return -1;
    if (write_synced(c, c->tmp_path, c->out, c->out_len, c->mode, &c->tmp_exists)) return -1;
    /* Run as root, keep the file's owner too: the .deb's bridge (user
     * kitchen-bus) must still be able to replace it from the admin page. */
    if (geteuid() == 0 && chown(c->tmp_path, st.st_uid, st.st_gid) != 0)
        return fail(c, "cannot give %s the owner of %s: %s", c->tmp_path, c->file, strerror(errno));
    return 0;
}

/* The current registry, ready to become <file>.bak: a hard link to it at
 * <file>.bak.tmp-bak (the bridge's name for it, registry_store.c), or where
 * the file system refuses links, a synced copy of what was read (with the
 * file's mode). Nothing named .bak changes yet. */
static int prepare_backup(ctx *c)
{
    c->bak_path = path_with(c, ".bak");
    c->bak_tmp_path = c->bak_path ? path_with(c, ".bak.tmp-bak") : NULL;
    if (!c->bak_tmp_path) return -1;
    if (unlink(c->bak_tmp_path) && errno != ENOENT) /* left by a crash */
        return fail(c, "cannot remove %s: %s", c->bak_tmp_path, strerror(errno));
    if (linkat(AT_FDCWD, c->file, AT_FDCWD, c->bak_tmp_path, AT_SYMLINK_FOLLOW) == 0) {
        c->bak_tmp_exists = 1;
        return 0;
    }
    return write_synced(c, c->bak_tmp_path, c->text, c->text_len, c->mode, &c->bak_tmp_exists);
}

static void sync_dir(const char *file)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(file, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - file) + (slash == file), file);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Keeps the old registry as <file>.bak, puts the new one in its place, and
 * syncs the directory. The broker already has the device: on a failure the
 * .tmp stays, for the operator to put in place. */
static int replace_registry(ctx *c)
{
    c->keep_tmp = 1;
    if (rename(c->bak_tmp_path, c->bak_path))
        return fail(c, "the broker has the device, but %s could not be kept as %s: %s; "
                       "rename %s to %s by hand", c->file, c->bak_path, strerror(errno), c->tmp_path, c->file);
    c->bak_tmp_exists = 0;
    if (rename(c->tmp_path, c->file))
        return fail(c, "the broker has the device, but %s could not be replaced: %s; "
                       "rename %s to %s by hand", c->file, strerror(errno), c->tmp_path, c->file);
    c->tmp_exists = 0;
    sync_dir(c->file);
    return 0;
}

/* ---- the broker ------------------------------------------------------- */

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first failure of a call is the one reported. */
__attribute__((format(printf, 2, 3)))
static void call_fail(dynsec_call *call, const char *fmt, ...)
{
    if (call->failed || call->done) return;
    call->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->c->err, sizeof call->c->err, fmt, ap);
    va_end(ap);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    dynsec_call *call = obj;
    if (rc) {
        call_fail(call, "the broker at %s refused the login as " BRIDGE_USERNAME ": %s",
                  call->c->url, mosquitto_connack_string(rc));
        return;
    }
    call->connected = 1;
    rc = mosquitto_subscribe(mosq, &call->sub_mid, TOPIC_DYNSEC_RESPONSE, 1);
    if (rc) call_fail(call, "cannot subscribe at %s: %s", call->c->url, mosquitto_strerror(rc));
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int n, const int *granted)
{
    dynsec_call *call = obj;
    if (mid != call->sub_mid) return;
    if (n < 1 || granted[0] > 2) {
        call_fail(call, "the broker at %s refused " BRIDGE_USERNAME " the subscription to %s",
                  call->c->url, TOPIC_DYNSEC_RESPONSE);
        return;
    }
    const char *cmd = call->c->command;
    int rc = mosquitto_publish(mosq, NULL, TOPIC_DYNSEC, (int)strlen(cmd), cmd, 1, false);
    if (rc) call_fail(call, "cannot send the command to %s: %s", call->c->url, mosquitto_strerror(rc));
}

/* The reply is the response to our command: the same command name and, when
 * the broker echoes it, our correlation id (the bridge sends commands too). */
static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
    (void)mosq;
    dynsec_call *call = obj;
    if (call->done || call->failed || strcmp(m->topic, TOPIC_DYNSEC_RESPONSE) != 0) return;
    cJSON *doc = json_parse_exact(m->payload, (size_t)m->payloadlen);
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "responses")) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(r, "command");
        const cJSON *corr = cJSON_GetObjectItemCaseSensitive(r, "correlationData");
        if (!cJSON_IsString(name) || strcmp(name->valuestring, call->command_name) != 0) continue;
        if (corr && (!cJSON_IsString(corr) || strcmp(corr->valuestring, call->c->correlation) != 0)) continue;
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(r, "error");
        if (cJSON_IsString(error)) {
            call->reply_error = strdup(error->valuestring);
            if (!call->reply_error) snprintf(call->c->err, sizeof call->c->err, "out of memory");
            call->failed = !call->reply_error;
        }
        call->done = 1;
        break;
    }
    cJSON_Delete(doc);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    dynsec_call *call = obj;
    const char *why = rc ? mosquitto_strerror(rc) : "no reason given";
    if (call->connected) call_fail(call, "the broker at %s closed the connection: %s", call->c->url, why);
    else call_fail(call, "cannot reach the broker at %s: %s", call->c->url, why);
}

/* Sends the command as the bridge's account and waits for its reply. */
static int dynsec_run(ctx *c, struct mosquitto *mosq, dynsec_call *call)
{
    long deadline = now_ms() + DEADLINE_MS;
    mosquitto_connect_callback_set(mosq, on_connect);
    mosquitto_subscribe_callback_set(mosq, on_subscribe);
    mosquitto_message_callback_set(mosq, on_message);
    mosquitto_disconnect_callback_set(mosq, on_disconnect);
    int rc = mosquitto_username_pw_set(mosq, BRIDGE_USERNAME, c->bridge_pw);
    if (rc) return fail(c, "cannot set up the broker connection: %s", mosquitto_strerror(rc));
    rc = mosquitto_connect_async(mosq, c->host, c->port, 30);
    if (rc) {
        const char *why = rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc);
        return fail(c, "cannot reach the broker at %s: %s", c->url, why);
    }
    while (!call->done && !call->failed) {
        long left = deadline - now_ms();
        if (left <= 0) return fail(c, "the broker did not answer within %d s; is the bus running?",
                                   DEADLINE_MS / 1000);
        rc = mosquitto_loop(mosq, (int)(left < 1000 ? left : 1000), 1);
        if (rc && !call->done && !call->failed) {
            const char *why = rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc);
            if (call->connected) return fail(c, "lost the broker at %s: %s", c->url, why);
            return fail(c, "cannot reach the broker at %s: %s", c->url, why);
        }
    }
    if (call->failed) return -1;
    if (call->reply_error) return fail(c, "the broker refused: %s", call->reply_error);
    return 0;
}

static int dynsec(ctx *c)
{
    dynsec_call call = { .c = c, .command_name = c->resetting ? "setClientPassword" : "createClient" };
    char id[64];
    snprintf(id, sizeof id, "kb-device-%ld", (long)getpid());
    mosquitto_lib_init();
    struct mosquitto *mosq = mosquitto_new(id, true, &call);
    int rc = mosq ? dynsec_run(c, mosq, &call) : fail(c, "out of memory");
    if (mosq) {
        if (call.connected) {
            /* Quietly: this disconnect is ours, not an error. */
            mosquitto_disconnect_callback_set(mosq, NULL);
            mosquitto_disconnect(mosq);
        }
        mosquitto_destroy(mosq);
    }
    mosquitto_lib_cleanup();
    free(call.reply_error);
    return rc;
}

/* ---- main ------------------------------------------------------------- */

/* What a device is, e.g. "kitchen at station oven of tenant pizza",
 * "board of every tenant", "admin". */
static void describe(const registry *r, const registry_device *d, char *buf, size_t len)
{
    const registry_tenant *t = registry_tenant_of(r, d);
    const char *station = registry_device_station(r, d);
    int n = snprintf(buf, len, "%s", device_role_name(d->role));
    if (station) n += snprintf(buf + n, len - (size_t)n, " at station %s", station);
    if (t) n += snprintf(buf + n, len - (size_t)n, " of tenant %s", t->id);
    if (d->role != DEVICE_BOARD) return;
    if (d->board_all) {
        snprintf(buf + n, len - (size_t)n, " of every tenant");
        return;
    }
    n += snprintf(buf + n, len - (size_t)n, " of tenant%s", d->n_board_tenants > 1 ? "s" : "");
    for (size_t i = 0; i < d->n_board_tenants && (size_t)n < len; i++)
        n += snprintf(buf + n, len - (size_t)n, "%s %s", i ? "," : "", r->tenants[d->board_tenants[i]].id);
}

static int run(ctx *c, int argc, char **argv)
{
    if (parse_args(c, argc, argv) || check_registry(c) || read_bridge_password(c)) return -1;
    if (!c->resetting && (append_device(c) || render_registry(c) || write_tmp(c) || prepare_backup(c))) return -1;
    if (make_command(c) || dynsec(c)) return -1;
    if (!c->resetting && replace_registry(c)) return -1;

    const registry *r = c->resetting ? c->reg : c->new_reg;
    char who[REGISTRY_BOARD_TENANTS_MAX * (REGISTRY_ID_MAX + 2) + 128];
    describe(r, registry_find_device(r, c->username), who, sizeof who);
    printf("\n  Device %s (%s)\n  username: %s\n  password: %s\n\n"
           "  This password is shown once; it is stored only as a hash.\n\n",
           c->username, who, c->username, c->password);
    if (fflush(stdout)) return fail(c, "cannot print the password: %s", strerror(errno));
    return 0;
}

static void cleanup(ctx *c)
{
    if (c->tmp_exists && !c->keep_tmp) unlink(c->tmp_path);
    if (c->bak_tmp_exists) unlink(c->bak_tmp_path);
    free(c->tmp_path);
    free(c->bak_path);
    free(c->bak_tmp_path);
    cJSON_Delete(c->board_tenants);
    free(c->out);
    registry_free(c->new_reg);
    if (c->command) explicit_bzero(c->command, strlen(c->command));
    cJSON_free(c->command);
    if (c->bridge_pw) explicit_bzero(c->bridge_pw, strlen(c->bridge_pw));
    free(c->bridge_pw);
    explicit_bzero(c->password, sizeof c->password);
    registry_free(c->reg);
    cJSON_Delete(c->doc);
    free(c->text);
}

int main(int argc, char **argv)
{
    ctx c = { 0 };
    int rc = run(&c, argc, argv);
    if (rc) fprintf(stderr, "kitchen-bus: %s\n", c.err);
    cleanup(&c);
    return rc ? 1 : 0;
}
