/* registry.h - the tenant registry: the outlet, its tenants and their devices.
 *
 * The registry file (JSON) is the single source of who may connect and what
 * each device may see. The bridge derives the broker's dynamic-security
 * clients and roles from it (dynsec_sync.c). Ids are restricted to
 * [a-z0-9_-] (1-32 chars) so they can never carry MQTT wildcards or
 * separators; a registry that breaks a rule is refused as a whole. */
#ifndef KB_REGISTRY_H
#define KB_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#define REGISTRY_ID_MAX 32
#define REGISTRY_NAME_MAX 128
#define REGISTRY_STATIONS_MAX 16
#define REGISTRY_BOARD_TENANTS_MAX 24 /* more: "tenants": "*" */
#define REGISTRY_LATE_AFTER_DEFAULT_MS (10 * 60 * 1000)

/* pos, kitchen (whole-order, or bound to one station), expo (whole orders
 * with each station's progress), board (an outlet-level pickup screen that
 * sees only numbers), admin. */
typedef enum { DEVICE_POS, DEVICE_KITCHEN, DEVICE_ADMIN, DEVICE_EXPO, DEVICE_BOARD } device_role;

/* A kitchen printer (issue 18, docs/OUTLET-SETUP.md "Printers"): a network
 * ESC/POS printer taking raw jobs ("address": "host:port", port 9100 if
 * none is given) or a CUPS queue ("cups"). `mode`: backup (the default:
 * print only when no screen shows the order), always, or off. from_screen:
 * in backup mode, a screen that goes off prints its open orders (default
 * on). width: characters per line (42: 80 mm paper, font A); codepage: one
 * escpos.h knows (default cp858). */
typedef enum { PRINT_BACKUP, PRINT_ALWAYS, PRINT_OFF } print_mode;
#define REGISTRY_ADDRESS_MAX 128
typedef struct {
    int set; /* 0: no printer here */
    char address[REGISTRY_ADDRESS_MAX + 1]; /* "" for a CUPS queue */
    char cups[REGISTRY_ID_MAX * 2 + 1];     /* "" for a network printer */
    int width;
    char codepage[16];
    print_mode mode;
    int from_screen;
} registry_printer;

typedef struct {
    char id[REGISTRY_ID_MAX + 1];
    char name[REGISTRY_NAME_MAX + 1];
    /* "printer": the tenant's printer, for whole orders. */
    registry_printer printer;
    /* "stations": where its items are made; an item names one of them, or
     * goes to the first. None: items' station is free text, as before. */
    char stations[REGISTRY_STATIONS_MAX][REGISTRY_ID_MAX + 1];
    int n_stations;
    /* A station listed as {"id": "bar", "printer": {...}} has a printer of
     * its own, for its items; a plain "bar" has none (set = 0). */
    registry_printer station_printers[REGISTRY_STATIONS_MAX];
    int board_names; /* "board_names": the board shows an order's pickup_name */
    /* "late_after": a ticket longer than this is late in reports (default:
     * the kitchen page's red, 10 minutes). */
    int64_t late_after_ms;
} registry_tenant;

typedef struct {
    char username[REGISTRY_ID_MAX + 1];
    device_role role;
    int tenant;  /* index into tenants; -1 for admins and boards */
    int station; /* a kitchen bound to one station: index into its tenant's stations; else -1 */
    /* A board: every tenant, or the listed ones (indexes into tenants). */
    int board_all;
    int *board_tenants;
    size_t n_board_tenants;
} registry_device;

typedef struct {
    char outlet_id[REGISTRY_ID_MAX + 1];
    char outlet_name[REGISTRY_NAME_MAX + 1];
    int demo;        /* demo mode: each password equals its username */
    int legacy_open; /* legacy gateway accepts anonymous clients */
    registry_tenant *tenants;
    size_t n_tenants;
    registry_device *devices;
    size_t n_devices;
    /* Names the text it was parsed from (FNV-1a 64, hex): any edit of the
     * file, by the admin API or by hand, gives a new version. */
    char version[17];
} registry;

int registry_load(const char *path, registry **out, char *err, size_t errlen);
int registry_parse(const char *text, size_t len, registry **out, char *err, size_t errlen);
void registry_free(registry *r);
/* The version registry_parse gives `text`, into buf (17 bytes). */
void registry_version_of(const char *text, size_t len, char buf[17]);

const registry_device *registry_find_device(const registry *r, const char *username);
const registry_tenant *registry_find_tenant(const registry *r, const char *id);
/* The tenant device `d` of `r` belongs to; NULL for an admin. */
const registry_tenant *registry_tenant_of(const registry *r, const registry_device *d);
const char *device_role_name(device_role role);
/* The station a kitchen is bound to, NULL if none. */
const char *registry_device_station(const registry *r, const registry_device *d);
/* The index of `station` in tenant t's stations, -1 if it has no such one. */
int registry_station_index(const registry_tenant *t, const char *station);
/* 1 if board device `d` shows tenant index `tenant`. */
int registry_board_shows(const registry_device *d, int tenant);
/* A printer's name for logs, /health and the print queue: "<tenant>" for a
 * tenant's printer, "<tenant>/<station>" for a station's (station < 0: the
 * tenant's). 0, or -1 if it does not fit. */
#define REGISTRY_PRINTER_KEY_MAX (2 * REGISTRY_ID_MAX + 1)
int registry_printer_key(char *buf, size_t len, const registry_tenant *t, int station);
const char *print_mode_name(print_mode m);
/* 1 if s is 1-32 characters of [a-z0-9_-]. */
int registry_id_valid(const char *s);

#endif
