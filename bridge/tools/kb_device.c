/* kb_device.c - kb-device: gives a device of a production registry a fresh
 * password in the broker's dynamic-security store, adding the device to the
 * registry first if asked.
 *
 *   kb-device <registry.json> <bridge.pw> <host> <port> <tenant> <username> <pos|kitchen>
 *   kb-device <registry.json> <bridge.pw> <host> <port> --set-password <username>
 *
 * Run by `kitchen-bus add-device` and `kitchen-bus set-password`, so an
 * outlet needs no Node.js. The registry is checked with the bridge's own
 * parser (registry.c, through kb_core), so a registry the bridge would refuse
 * is refused here too, and demo registries are refused. One
 * dynamic-security command goes to the broker as the bridge's account
 * (kb-bridge, its password read from <bridge.pw>). For a new device the
 * registry is first written to <registry.json>.tmp, the broker client is
 * created, and only then is the temporary file renamed over the registry, so
 * a broker failure leaves the registry untouched. The password (18 random
 * bytes, base64url) is printed once on stdout and stored only as the
 * broker's salted hash; it never goes on a command line or into a log.
 * Every error is one line "kitchen-bus: <message>" on stderr, exit status 1. */
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
              "(<tenant> <username> <pos|kitchen> | --set-password <username>)"

typedef struct {
    /* arguments */
    const char *file, *pw_file, *host, *tenant, *username, *role;
    int port, resetting;
    char url[300];
    /* state, all released by cleanup() */
    char *text;
    cJSON *doc;
    registry *reg;
    char *bridge_pw;
    char password[PASSWORD_CHARS + 1];
    char correlation[64];
    char *command;
    char *tmp_path;
    int tmp_exists;
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
    if (argc == 7 && strcmp(argv[5], "--set-password") == 0) {
        c->resetting = 1;
        c->username = argv[6];
    } else if (argc == 8 && strcmp(argv[5], "--set-password") != 0) {
        c->tenant = argv[5];
        c->username = argv[6];
        c->role = argv[7];
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
    if (!c->resetting && strcmp(c->role, "pos") != 0 && strcmp(c->role, "kitchen") != 0)
        return fail(c, "role must be pos or kitchen");
    return 0;
}

/* Loads the registry (as the bridge would) and checks the request against it. */
static int check_registry(ctx *c)
{
    size_t len;
    if (read_all(c, c->file, REGISTRY_MAX_BYTES, &c->text, &len)) return -1;
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
    if (!registry_find_tenant(c->reg, c->tenant)) return fail(c, "no tenant \"%s\" in %s", c->tenant, c->file);
    if (known)
        return fail(c, "a device called \"%s\" already exists (to give it a new password: "
                       "kitchen-bus set-password %s)", c->username, c->username);
    return 0;
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

/* Appends the new device to its tenant in the parsed document. */
static int append_device(ctx *c)
{
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
    if (!cJSON_AddStringToObject(d, "username", c->username) || !cJSON_AddStringToObject(d, "role", c->role))
        return fail(c, "out of memory");
    return 0;
}

/* Writes the new registry to <file>.tmp (mode 0644) and syncs it to disk. */
static int write_tmp(ctx *c)
{
    size_t n = strlen(c->file) + sizeof ".tmp";
    c->tmp_path = malloc(n);
    if (!c->tmp_path) return fail(c, "out of memory");
    snprintf(c->tmp_path, n, "%s.tmp", c->file);
    int fd = open(c->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return fail(c, "cannot write %s: %s", c->tmp_path, strerror(errno));
    c->tmp_exists = 1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int saved = errno;
        close(fd);
        return fail(c, "cannot write %s: %s", c->tmp_path, strerror(saved));
    }
    int rc = fchmod(fd, 0644);
    if (!rc) rc = print_json(f, c->doc, 0);
    if (!rc) rc = fputc('\n', f) == EOF ? -1 : 0;
    if (!rc) rc = fflush(f);
    if (!rc) rc = fsync(fd);
    int saved = errno;
    if (fclose(f) && !rc) {
        rc = -1;
        saved = errno;
    }
    if (rc) return fail(c, "cannot write %s: %s", c->tmp_path, strerror(saved));
    return 0;
}

/* Puts the new registry in place of the old one, and syncs the directory. */
static int replace_registry(ctx *c)
{
    if (rename(c->tmp_path, c->file))
        return fail(c, "the broker has the device, but %s could not be replaced: %s; "
                       "rename %s to %s by hand", c->file, strerror(errno), c->tmp_path, c->file);
    c->tmp_exists = 0;
    char dir[PATH_MAX];
    const char *slash = strrchr(c->file, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - c->file) + (slash == c->file), c->file);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
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

static int run(ctx *c, int argc, char **argv)
{
    if (parse_args(c, argc, argv) || check_registry(c) || read_bridge_password(c)) return -1;
    if (!c->resetting && (append_device(c) || write_tmp(c))) return -1;
    if (make_command(c) || dynsec(c)) return -1;
    if (!c->resetting && replace_registry(c)) return -1;

    /* "pos of tenant pizza", or "admin" for an admin. */
    const char *role = c->role, *tenant = c->tenant;
    if (c->resetting) {
        const registry_device *d = registry_find_device(c->reg, c->username);
        role = device_role_name(d->role);
        tenant = d->tenant >= 0 ? c->reg->tenants[d->tenant].id : NULL;
    }
    char who[REGISTRY_ID_MAX * 2 + 32];
    if (tenant) snprintf(who, sizeof who, "%s of tenant %s", role, tenant);
    else snprintf(who, sizeof who, "%s", role);
    printf("\n  Device %s (%s)\n  username: %s\n  password: %s\n\n"
           "  This password is shown once; it is stored only as a hash.\n\n",
           c->username, who, c->username, c->password);
    if (fflush(stdout)) return fail(c, "cannot print the password: %s", strerror(errno));
    return 0;
}

static void cleanup(ctx *c)
{
    if (c->tmp_exists) unlink(c->tmp_path);
    free(c->tmp_path);
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
