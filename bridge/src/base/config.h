/* config.h - the bridge's settings, read once from the environment.
 *
 *   KB_MQTT_HOST (127.0.0.1)   KB_MQTT_PORT (1883)    KB_HTTP_PORT (3002)
 *   KB_WS_PORT (3001, told to browsers)                KB_HTTP_BIND (all)
 *   KB_DATA_DIR (./data)       KB_REGISTRY (required) KB_WEB_DIR (web pages)
 *   KB_BRIDGE_USER (kb-bridge) KB_BRIDGE_PASSWORD_FILE ($KB_DATA_DIR/broker/bridge.pw)
 *   KB_DEDUPE_WINDOW (6h)      KB_RETENTION (30d)     durations: 30d 6h 10m 90s
 *   KB_UPLINK (off; 1 = on)    KB_UPLINK_GRACE_MS (30000)
 *   KB_BOARD_READY_FOR (10m: how long a ready number stays on the pickup board)
 *   KB_ADMIN_BIND (all: the one address /admin and /api answer on)
 *   KB_PAIRING_TTL (10m: how long a tablet's pairing code works)
 *   KB_SCREENS_SETTLE (6s: after a broker connect, how long the printers wait for the screens to
 *                      be back before they decide; the old sync server's kitchens reconnect every 5 s)
 *   KB_PRINTER_TIMEOUT (5s: a printer's connect, each stall of a job, and its close at the end)
 *   KB_TEST_CLOCK (off; 1 = tests may set the wall clock: refused with a production registry)
 *
 * The bridge's broker password is read from a file, never from the
 * environment or the command line, so it never shows in `ps` or a log. */
#ifndef KB_CONFIG_H
#define KB_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_PATH_MAX 1024

typedef struct {
    char mqtt_host[256];
    int mqtt_port;
    int http_port;
    int ws_port;
    char http_bind[64]; /* "" = all interfaces */
    char data_dir[CONFIG_PATH_MAX];
    char registry_path[CONFIG_PATH_MAX];
    char web_dir[CONFIG_PATH_MAX];
    char bridge_user[64];
    char bridge_password_file[CONFIG_PATH_MAX];
    char bridge_password[256];
    /* How long after an order closed an identical re-send of it is still a
     * duplicate (an outbox retry), not a new order. */
    int64_t dedupe_window_ms;
    /* How long closed orders and their events stay in the journal. */
    int64_t retention_ms;
    /* Re-send journaled events head office lacks (docs/UPLINK.md). */
    int uplink;
    double uplink_grace_ms;
    int64_t board_ready_for_ms;
    char admin_bind[64]; /* "" = every address the HTTP port listens on */
    int64_t pairing_ttl_ms;
    int64_t screens_settle_ms;
    int64_t printer_timeout_ms;
    int test_clock;
} kb_config;

int config_from_env(kb_config *c, char *err, size_t errlen);
/* Reads the password in c->bridge_password_file into dst (len bytes),
 * trailing newlines dropped: 0, or -1 with err naming the file. Used at
 * start, and by mqtt_link.c again while the broker refuses the bridge. */
int config_read_password(const kb_config *c, char *dst, size_t len, char *err, size_t errlen);

#endif
