/* config.c - see config.h. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static int copy(char *dst, size_t len, const char *src, const char *name, char *err, size_t errlen)
{
    if (strlen(src) >= len) {
        snprintf(err, errlen, "%s is too long", name);
        return -1;
    }
    strcpy(dst, src);
    return 0;
}

static int port(const char *name, const char *fallback, int *out, char *err, size_t errlen)
{
    const char *v = env_or(name, fallback);
    char *end;
    long p = strtol(v, &end, 10);
    if (*end || p < 1 || p > 65535) {
        snprintf(err, errlen, "%s must be a port number (1-65535)", name);
        return -1;
    }
    *out = (int)p;
    return 0;
}

static int duration(const char *name, const char *fallback, int64_t *out, char *err, size_t errlen)
{
    const char *v = env_or(name, fallback);
    if (duration_parse(v, out) != 0) {
        snprintf(err, errlen, "%s=%s is not a duration: use a whole number and s, m, h or d (e.g. %s)", name, v,
                 fallback);
        return -1;
    }
    return 0;
}

int config_read_password(const kb_config *c, char *dst, size_t len, char *err, size_t errlen)
{
    FILE *f = fopen(c->bridge_password_file, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the bridge password file %s", c->bridge_password_file);
        return -1;
    }
    size_t n = fread(dst, 1, len - 1, f);
    fclose(f);
    while (n && (dst[n - 1] == '\n' || dst[n - 1] == '\r')) n--;
    dst[n] = '\0';
    if (!n) {
        snprintf(err, errlen, "the bridge password file %s is empty", c->bridge_password_file);
        return -1;
    }
    return 0;
}

int config_from_env(kb_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (port("KB_MQTT_PORT", "1883", &c->mqtt_port, err, errlen) ||
        port("KB_HTTP_PORT", "3002", &c->http_port, err, errlen) ||
        port("KB_WS_PORT", "3001", &c->ws_port, err, errlen) ||
        duration("KB_DEDUPE_WINDOW", "6h", &c->dedupe_window_ms, err, errlen) ||
        duration("KB_RETENTION", "30d", &c->retention_ms, err, errlen) ||
        duration("KB_BOARD_READY_FOR", "10m", &c->board_ready_for_ms, err, errlen) ||
        duration("KB_PAIRING_TTL", "10m", &c->pairing_ttl_ms, err, errlen) ||
        duration("KB_SCREENS_SETTLE", "6s", &c->screens_settle_ms, err, errlen) ||
        duration("KB_PRINTER_TIMEOUT", "5s", &c->printer_timeout_ms, err, errlen))
        return -1;
    if (c->printer_timeout_ms < 1000 || c->printer_timeout_ms > 600000) {
        snprintf(err, errlen, "KB_PRINTER_TIMEOUT must be 1s to 10m (e.g. 5s)");
        return -1;
    }
    if (c->pairing_ttl_ms <= 0) {
        snprintf(err, errlen, "KB_PAIRING_TTL must be longer than 0 (e.g. 10m)");
        return -1;
    }
    if (c->retention_ms < c->dedupe_window_ms) {
        snprintf(err, errlen, "KB_RETENTION is shorter than KB_DEDUPE_WINDOW: a re-send could outlive the order it "
                              "repeats; make KB_RETENTION at least as long");
        return -1;
    }
    const char *registry = getenv("KB_REGISTRY");
    if (!registry || !*registry) {
        snprintf(err, errlen, "KB_REGISTRY (the tenant registry file) is not set");
        return -1;
    }
    char pwfile[CONFIG_PATH_MAX];
    const char *data = env_or("KB_DATA_DIR", "./data");
    int n = snprintf(pwfile, sizeof pwfile, "%s/broker/bridge.pw", data);
    if (n < 0 || (size_t)n >= sizeof pwfile) {
        snprintf(err, errlen, "KB_DATA_DIR is too long");
        return -1;
    }
    if (copy(c->mqtt_host, sizeof c->mqtt_host, env_or("KB_MQTT_HOST", "127.0.0.1"), "KB_MQTT_HOST", err, errlen) ||
        copy(c->http_bind, sizeof c->http_bind, env_or("KB_HTTP_BIND", ""), "KB_HTTP_BIND", err, errlen) ||
        copy(c->admin_bind, sizeof c->admin_bind, env_or("KB_ADMIN_BIND", ""), "KB_ADMIN_BIND", err, errlen) ||
        copy(c->data_dir, sizeof c->data_dir, data, "KB_DATA_DIR", err, errlen) ||
        copy(c->registry_path, sizeof c->registry_path, registry, "KB_REGISTRY", err, errlen) ||
        copy(c->web_dir, sizeof c->web_dir, env_or("KB_WEB_DIR", "./web-adapter/public"), "KB_WEB_DIR", err, errlen) ||
        copy(c->bridge_user, sizeof c->bridge_user, env_or("KB_BRIDGE_USER", "kb-bridge"), "KB_BRIDGE_USER", err, errlen))
        return -1;
    if (copy(c->bridge_password_file, sizeof c->bridge_password_file, env_or("KB_BRIDGE_PASSWORD_FILE", pwfile),
             "KB_BRIDGE_PASSWORD_FILE", err, errlen))
        return -1;
    struct in_addr addr;
    if (c->admin_bind[0] && inet_pton(AF_INET, c->admin_bind, &addr) != 1) {
        snprintf(err, errlen, "KB_ADMIN_BIND=%s is not an IPv4 address of this machine: use e.g. 127.0.0.1, or unset it "
                              "for all interfaces", c->admin_bind);
        return -1;
    }
    const char *test_clock = getenv("KB_TEST_CLOCK");
    c->test_clock = test_clock && strcmp(test_clock, "1") == 0;
    const char *uplink = getenv("KB_UPLINK");
    c->uplink = uplink && strcmp(uplink, "1") == 0;
    const char *grace = getenv("KB_UPLINK_GRACE_MS");
    c->uplink_grace_ms = grace && atof(grace) > 0 ? atof(grace) : 30000;
    return config_read_password(c, c->bridge_password, sizeof c->bridge_password, err, errlen);
}
