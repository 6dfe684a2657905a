/* admin_api.c - see admin_api.h and docs/ADMIN-API.md.
 *
 * Deferred answers: a login waits for the broker's verdict on the password
 * (legacy_auth), a pairing or an unpairing for the broker's confirmation of
 * the new password (dynsec_sync_call). Each waits in `ops`, named by its
 * HTTP request id; a device password lives there only until it is answered,
 * then it is wiped. */
#include "admin_api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <libgen.h>
#include <string.h>
#include <unistd.h>

#include "admin_sessions.h"
#include "charset.h"
#include "clock.h"
#include "health.h"
#include "journal.h"
#include "json_util.h"
#include "log.h"
#include "pairing.h"
#include "ratelimit.h"
#include "registry_edit.h"
#include "registry_store.h"
#include "reports.h"
#include "secret.h"

#define OPS_MAX 16
#define FAILURES_PER_MINUTE 5
#define PASSWORD_BYTES 18
#define PASSWORD_CHARS 24
#define REPORTS_MAX 4

typedef enum { OP_FREE, OP_LOGIN, OP_PAIR, OP_UNPAIR } op_kind;

typedef struct {
    op_kind kind;
    uint32_t request;
    char user[REGISTRY_ID_MAX + 1];
    char peer[64];
    char code[PAIRING_CODE_LEN + 1];
    char password[PASSWORD_CHARS + 1];
} admin_op;

/* A registry edit on the file's JSON (model/registry_edit.c), from a body. */
typedef int (*edit_fn)(cJSON *doc, const cJSON *body, char *err, size_t errlen);
/* A registry-changing route: its edit, and the API (the route's ctx). */
typedef struct {
    struct admin_api *api;
    edit_fn edit;
} registry_route;

struct admin_api {
    admin_api_deps d;
    http_server *http;
    legacy_auth *auth;
    admin_sessions sessions;
    pairings pairings;
    ratelimit logins, codes;
    admin_op ops[OPS_MAX];
    struct {
        report *rp; /* NULL: free */
        uint32_t request;
        int csv;
    } reports[REPORTS_MAX];
    lws_sorted_usec_list_t report_sul;
    registry_route edits[5]; /* the ctx of each registry-changing route */
};

/* ---- answers ---- */

static int answer(http_response *res, unsigned status, cJSON *doc)
{
    res->status = status;
    res->body = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    return res->body ? HTTP_ANSWERED : -1;
}

__attribute__((format(printf, 4, 5)))
static int fail(http_response *res, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "error", code);
    cJSON_AddStringToObject(doc, "message", msg);
    return answer(res, status, doc);
}

/* Answers a deferred request. */
static void reply_later(admin_api *api, uint32_t request, unsigned status, cJSON *doc, const char *cookie)
{
    http_response res = {status, NULL, doc ? cJSON_PrintUnformatted(doc) : NULL, cookie};
    cJSON_Delete(doc);
    if (!res.body) log_error("out of memory answering an admin request");
    http_server_reply(api->http, request, &res);
}

__attribute__((format(printf, 5, 6)))
static void fail_later(admin_api *api, uint32_t request, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "error", code);
    cJSON_AddStringToObject(doc, "message", msg);
    reply_later(api, request, status, doc, NULL);
}

static void add_iso(cJSON *obj, const char *key, long long wall_ms)
{
    char iso[40];
    kb_iso_from_ms(wall_ms, iso, sizeof iso);
    cJSON_AddStringToObject(obj, key, iso);
}

/* ---- requests ---- */

/* The body as a JSON object, or NULL (and *rc set to a 400 answer). */
static cJSON *body_object(const http_request *req, http_response *res, int *rc)
{
    cJSON *doc = json_parse_exact(req->body, req->body_len);
    if (cJSON_IsObject(doc)) return doc;
    cJSON_Delete(doc);
    *rc = fail(res, HTTP_STATUS_BAD_REQUEST, "bad_request", "the body must be a JSON object");
    return NULL;
}

static const char *str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static admin_op *new_op(admin_api *api, op_kind kind, uint32_t request)
{
    for (int i = 0; i < OPS_MAX; i++)
        if (api->ops[i].kind == OP_FREE) {
            memset(&api->ops[i], 0, sizeof api->ops[i]);
            api->ops[i].kind = kind;
            api->ops[i].request = request;
            return &api->ops[i];
        }
    return NULL;
}

static admin_op *find_op(admin_api *api, op_kind kind, uint32_t request)
{
    for (int i = 0; i < OPS_MAX; i++)
        if (api->ops[i].kind == kind && api->ops[i].request == request) return &api->ops[i];
    return NULL;
}

static void end_op(admin_op *op)
{
    secret_wipe(op->password, sizeof op->password);
    memset(op, 0, sizeof *op);
}

/* The request's session, or NULL with *rc an answer: 401 without one, 403
 * for a POST without its CSRF token. */
static admin_session *session_of(admin_api *api, const http_request *req, http_response *res, int *rc)
{
    admin_session *s = admin_session_find(&api->sessions, req->cookie, kb_now_ms());
    if (!s) {
        *rc = fail(res, HTTP_STATUS_UNAUTHORIZED, "login_required", "log in as an admin first");
        return NULL;
    }
    if (strcmp(req->method, "POST") == 0 && !secret_equal(req->csrf, s->csrf)) {
        *rc = fail(res, HTTP_STATUS_FORBIDDEN, "csrf", "this request lacks the session's x-csrf-token header");
        return NULL;
    }
    return s;
}

#define NEED_SESSION(api, req, res)                         \
    do {                                                    \
        int rc_ = 0;                                        \
        if (!session_of(api, req, res, &rc_)) return rc_;   \
    } while (0)

/* ---- session ---- */

static cJSON *session_doc(const admin_session *s)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "user", s->user);
    cJSON_AddStringToObject(doc, "csrf", s->csrf);
    cJSON_AddNumberToObject(doc, "expires_in", admin_session_expires_in(s, kb_now_ms()));
    return doc;
}

static int post_login(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    int rc = 0;
    cJSON *body = body_object(req, res, &rc);
    if (!body) return rc;
    const char *user = str(body, "username"), *password = str(body, "password");
    if (!user || !password || !registry_id_valid(user) || strlen(password) > 256) {
        cJSON_Delete(body);
        return fail(res, HTTP_STATUS_BAD_REQUEST, "bad_request", "send {\"username\", \"password\"}");
    }
    if (!ratelimit_allowed(&api->logins, req->peer, kb_now_ms())) {
        cJSON_Delete(body);
        return fail(res, 429, "rate_limited", "too many failed logins from this address; wait a minute");
    }
    admin_op *op = new_op(api, OP_LOGIN, req->id);
    if (!op || !api->auth || legacy_auth_start(api->auth, req->id, user, password) != 0) {
        if (op) end_op(op);
        cJSON_Delete(body);
        return fail(res, HTTP_STATUS_SERVICE_UNAVAILABLE, "broker", "the broker cannot check passwords right now");
    }
    snprintf(op->user, sizeof op->user, "%s", user);
    snprintf(op->peer, sizeof op->peer, "%s", req->peer);
    cJSON_Delete(body);
    return HTTP_DEFERRED;
}

void admin_api_auth_done(void *ctx, uint32_t request, int verdict)
{
    admin_api *api = ctx;
    admin_op *op = find_op(api, OP_LOGIN, request);
    if (!op) return;
    const registry_device *d = registry_find_device(*api->d.registry, op->user);
    if (verdict < 0) {
        fail_later(api, request, HTTP_STATUS_SERVICE_UNAVAILABLE, "broker", "the broker cannot check passwords right now");
    } else if (verdict == 0) {
        ratelimit_fail(&api->logins, op->peer, kb_now_ms());
        log_warn("admin login refused for %s from %s", op->user, op->peer);
        fail_later(api, request, HTTP_STATUS_UNAUTHORIZED, "bad_login", "wrong username or password");
    } else if (!d || d->role != DEVICE_ADMIN) {
        fail_later(api, request, HTTP_STATUS_FORBIDDEN, "not_admin", "%s is not an admin account of this outlet", op->user);
    } else {
        const admin_session *s = admin_session_create(&api->sessions, op->user, kb_now_ms());
        if (!s) {
            fail_later(api, request, HTTP_STATUS_SERVICE_UNAVAILABLE, "random", "no random bytes for a session");
        } else {
            char cookie[160];
            snprintf(cookie, sizeof cookie, ADMIN_COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d",
                     s->token, (int)(ADMIN_MAX_MS / 1000));
            log_info("admin %s logged in from %s", op->user, op->peer);
            reply_later(api, request, HTTP_STATUS_OK, session_doc(s), cookie);
        }
    }
    end_op(op);
}

static int get_session(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    int rc = 0;
    admin_session *s = session_of(api, req, res, &rc);
    return s ? answer(res, HTTP_STATUS_OK, session_doc(s)) : rc;
}

static int post_logout(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    int rc = 0;
    admin_session *s = session_of(api, req, res, &rc);
    if (!s) return rc;
    admin_session_end(&api->sessions, s);
    res->set_cookie = ADMIN_COOKIE "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0";
    return answer(res, HTTP_STATUS_OK, cJSON_CreateObject());
}

/* ---- the outlet ---- */

static int get_outlet(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    NEED_SESSION(api, req, res);
    const registry *r = *api->d.registry;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "version", r->version);
    cJSON_AddBoolToObject(doc, "demo", r->demo);
    /* Can a change be saved at all (a read-only mount, a file of another user)? */
    char dir[CONFIG_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", api->d.config->registry_path);
    cJSON_AddBoolToObject(doc, "writable",
                          access(api->d.config->registry_path, W_OK) == 0 && access(dirname(dir), W_OK) == 0);
    cJSON *outlet = cJSON_AddObjectToObject(doc, "outlet");
    cJSON_AddStringToObject(outlet, "id", r->outlet_id);
    cJSON_AddStringToObject(outlet, "name", r->outlet_name);
    cJSON *tenants = cJSON_AddArrayToObject(doc, "tenants");
    for (size_t i = 0; i < r->n_tenants; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "id", r->tenants[i].id);
        cJSON_AddStringToObject(t, "name", r->tenants[i].name);
        cJSON *st = cJSON_AddArrayToObject(t, "stations");
        for (int k = 0; k < r->tenants[i].n_stations; k++)
            cJSON_AddItemToArray(st, cJSON_CreateString(r->tenants[i].stations[k]));
        cJSON_AddItemToArray(tenants, t);
    }
    cJSON *devices = cJSON_AddArrayToObject(doc, "devices");
    for (size_t i = 0; i < r->n_devices; i++) {
        const registry_device *d = &r->devices[i];
        const registry_tenant *t = registry_tenant_of(r, d);
        const char *station = registry_device_station(r, d);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "username", d->username);
        cJSON_AddStringToObject(o, "role", device_role_name(d->role));
        if (t) cJSON_AddStringToObject(o, "tenant", t->id);
        else cJSON_AddNullToObject(o, "tenant");
        if (station) cJSON_AddStringToObject(o, "station", station);
        if (d->role == DEVICE_BOARD) {
            if (d->board_all) {
                cJSON_AddStringToObject(o, "tenants", "*");
            } else {
                cJSON *shows = cJSON_AddArrayToObject(o, "tenants");
                for (size_t k = 0; k < d->n_board_tenants; k++)
                    cJSON_AddItemToArray(shows, cJSON_CreateString(r->tenants[d->board_tenants[k]].id));
            }
        }
        cJSON_AddItemToArray(devices, o);
    }
    return answer(res, HTTP_STATUS_OK, doc);
}

static int stale(admin_api *api, http_response *res, const char *why)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "error", "stale");
    cJSON_AddStringToObject(doc, "message", why);
    cJSON_AddStringToObject(doc, "version", (*api->d.registry)->version);
    return answer(res, HTTP_STATUS_CONFLICT, doc);
}

/* The one path of every registry change (see admin_api.h). */
static int change_registry(admin_api *api, const http_request *req, http_response *res, edit_fn edit)
{
    NEED_SESSION(api, req, res);
    int rc = 0;
    cJSON *body = body_object(req, res, &rc);
    if (!body) return rc;
    const char *version = str(body, "version");
    const char *path = api->d.config->registry_path;
    char err[512], on_disk[17];
    size_t len;
    char *text = NULL;
    cJSON *doc = NULL;
    char *fresh = NULL;
    registry *check = NULL;
    if (!version) {
        rc = fail(res, HTTP_STATUS_BAD_REQUEST, "bad_request", "send the \"version\" of the outlet this change is made on");
        goto out;
    }
    if (strcmp(version, (*api->d.registry)->version) != 0) {
        rc = stale(api, res, "someone else changed the outlet since you loaded it; reload and try again");
        goto out;
    }
    text = registry_store_read(path, &len, err, sizeof err);
    if (!text) {
        rc = fail(res, HTTP_STATUS_INTERNAL_SERVER_ERROR, "registry", "%s", err);
        goto out;
    }
    registry_version_of(text, len, on_disk);
    if (strcmp(on_disk, (*api->d.registry)->version) != 0) {
        api->d.reload(api->d.reload_ctx); /* a hand edit: take it in first */
        rc = stale(api, res, "the registry file was edited by hand; it is loaded now, reload and try again");
        goto out;
    }
    doc = json_parse_exact(text, len);
    if (!cJSON_IsObject(doc)) {
        rc = fail(res, HTTP_STATUS_INTERNAL_SERVER_ERROR, "registry", "the registry file is not a JSON object");
        goto out;
    }
    if (edit(doc, body, err, sizeof err) != 0) {
        rc = fail(res, HTTP_STATUS_BAD_REQUEST, "bad_request", "%s", err);
        goto out;
    }
    char *printed = cJSON_Print(doc);
    if (printed) {
        fresh = malloc(strlen(printed) + 2);
        if (fresh) sprintf(fresh, "%s\n", printed);
        free(printed);
    }
    if (!fresh) {
        rc = -1;
        goto out;
    }
    if (registry_parse(fresh, strlen(fresh), &check, err, sizeof err) != 0) {
        rc = fail(res, HTTP_STATUS_BAD_REQUEST, "bad_request", "%s", err);
        goto out;
    }
    if (registry_store_save(path, fresh, err, sizeof err) != 0) {
        log_error("admin change not saved: %s", err);
        rc = fail(res, HTTP_STATUS_INTERNAL_SERVER_ERROR, "registry", "not saved: %s", err);
        goto out;
    }
    if (api->d.reload(api->d.reload_ctx) != 0) {
        rc = fail(res, HTTP_STATUS_INTERNAL_SERVER_ERROR, "registry", "saved, but the bridge could not reload it");
        goto out;
    }
    log_info("registry changed by admin (%s): %zu tenants, %zu devices", req->path, check->n_tenants, check->n_devices);
    cJSON *ok = cJSON_CreateObject();
    cJSON_AddStringToObject(ok, "version", (*api->d.registry)->version);
    rc = answer(res, HTTP_STATUS_OK, ok);
out:
    registry_free(check);
    free(fresh);
    cJSON_Delete(doc);
    free(text);
    cJSON_Delete(body);
    return rc;
}

static int need(const cJSON *body, const char *key, char *err, size_t errlen, const char **out)
{
    *out = str(body, key);
    if (*out) return 0;
    snprintf(err, errlen, "\"%s\" is missing", key);
    return -1;
}

static int edit_add_tenant(cJSON *doc, const cJSON *body, char *err, size_t errlen)
{
    const char *id;
    if (need(body, "id", err, errlen, &id)) return -1;
    return registry_edit_add_tenant(doc, id, str(body, "name"), err, errlen);
}

static int edit_rename_tenant(cJSON *doc, const cJSON *body, char *err, size_t errlen)
{
    const char *id, *name;
    if (need(body, "id", err, errlen, &id) || need(body, "name", err, errlen, &name)) return -1;
    return registry_edit_rename_tenant(doc, id, name, err, errlen);
}

static int edit_add_station(cJSON *doc, const cJSON *body, char *err, size_t errlen)
{
    const char *tenant, *station;
    if (need(body, "tenant", err, errlen, &tenant) || need(body, "station", err, errlen, &station)) return -1;
    return registry_edit_add_station(doc, tenant, station, err, errlen);
}

static int edit_add_device(cJSON *doc, const cJSON *body, char *err, size_t errlen)
{
    const char *username, *role;
    if (need(body, "username", err, errlen, &username) || need(body, "role", err, errlen, &role)) return -1;
    return registry_edit_add_device(doc, username, role, str(body, "tenant"), str(body, "station"),
                                    cJSON_GetObjectItemCaseSensitive(body, "tenants"), err, errlen);
}

static int edit_remove_device(cJSON *doc, const cJSON *body, char *err, size_t errlen)
{
    const char *username;
    if (need(body, "username", err, errlen, &username)) return -1;
    return registry_edit_remove_device(doc, username, err, errlen);
}

static int post_registry_change(void *ctx, const http_request *req, http_response *res)
{
    const registry_route *route = ctx;
    return change_registry(route->api, req, res, route->edit);
}

/* ---- devices ---- */

static int get_devices(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    NEED_SESSION(api, req, res);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "devices", presence_devices_json(api->d.presence, *api->d.registry));
    char *legacy = legacy_gateway_clients_json(api->d.legacy);
    cJSON *ldoc = legacy ? json_parse_exact(legacy, strlen(legacy)) : NULL;
    free(legacy);
    cJSON *clients = cJSON_DetachItemFromObjectCaseSensitive(ldoc, "clients");
    cJSON_AddItemToObject(doc, "legacy", clients ? clients : cJSON_CreateArray());
    cJSON_Delete(ldoc);
    return answer(res, HTTP_STATUS_OK, doc);
}

/* The dynamic-security commands that give `user` the password `pw` and
 * disconnect whoever is logged in as it now. */
static cJSON *new_password_commands(const char *user, const char *pw)
{
    cJSON *cmds = cJSON_CreateArray();
    static const char *const names[] = {"setClientPassword", "disableClient", "enableClient"};
    for (size_t i = 0; i < 3; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "command", names[i]);
        cJSON_AddStringToObject(c, "username", user);
        if (i == 0) cJSON_AddStringToObject(c, "password", pw);
        cJSON_AddItemToArray(cmds, c);
    }
    return cmds;
}

static void on_password_set(void *ctx, uint32_t request, const char *error);

/* Starts giving op->user a fresh password: HTTP_DEFERRED, or an answer. */
static int set_new_password(admin_api *api, admin_op *op, http_response *res)
{
    if (secret_base64url(op->password, PASSWORD_BYTES) != 0) {
        end_op(op);
        return fail(res, HTTP_STATUS_SERVICE_UNAVAILABLE, "random", "no random bytes for a password");
    }
    cJSON *cmds = new_password_commands(op->user, op->password);
    if (!cmds || dynsec_sync_call(api->d.dynsec, cmds, on_password_set, api, op->request) != 0) {
        end_op(op);
        return fail(res, HTTP_STATUS_SERVICE_UNAVAILABLE, "broker", "the broker cannot be reached right now");
    }
    return HTTP_DEFERRED;
}

static const char *page_of(device_role role)
{
    switch (role) {
    case DEVICE_POS: return "/pos";
    case DEVICE_BOARD: return "/board";
    default: return "/kitchen";
    }
}

static void on_password_set(void *ctx, uint32_t request, const char *error)
{
    admin_api *api = ctx;
    admin_op *op = find_op(api, OP_PAIR, request);
    if (!op) op = find_op(api, OP_UNPAIR, request);
    if (!op) return;
    const registry *r = *api->d.registry;
    const registry_device *d = registry_find_device(r, op->user);
    if (error) {
        log_error("could not set a new password for %s: %s", op->user, error);
        if (op->kind == OP_PAIR) pairing_reopen(&api->pairings, op->code, kb_now_ms());
        fail_later(api, request, HTTP_STATUS_SERVICE_UNAVAILABLE, "broker",
                   "the broker did not take the new password (%s); try again in a moment", error);
    } else if (op->kind == OP_UNPAIR) {
        log_info("device %s unpaired: new password, its tablets disconnected", op->user);
        reply_later(api, request, HTTP_STATUS_OK, cJSON_CreateObject(), NULL);
    } else if (!d) {
        fail_later(api, request, HTTP_STATUS_GONE, "removed", "device %s was removed meanwhile", op->user);
    } else {
        const registry_tenant *t = registry_tenant_of(r, d);
        const char *station = registry_device_station(r, d);
        presence_note_address(api->d.presence, op->user, op->peer, 1, (double)kb_wall_ms());
        log_info("device %s paired from %s", op->user, op->peer);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "username", op->user);
        cJSON_AddStringToObject(doc, "password", op->password);
        cJSON_AddStringToObject(doc, "role", device_role_name(d->role));
        if (t) cJSON_AddStringToObject(doc, "tenant", t->id);
        else cJSON_AddNullToObject(doc, "tenant");
        if (station) cJSON_AddStringToObject(doc, "station", station);
        else cJSON_AddNullToObject(doc, "station");
        cJSON_AddStringToObject(doc, "page", page_of(d->role));
        reply_later(api, request, HTTP_STATUS_OK, doc, NULL);
    }
    end_op(op);
}

/* The device (not an admin) the body's "username" names, or NULL with *rc
 * a 400 answer. */
static const registry_device *device_of(admin_api *api, const http_request *req, http_response *res, int *rc)
{
    cJSON *body = body_object(req, res, rc);
    if (!body) return NULL;
    const char *user = str(body, "username");
    const registry_device *d = user ? registry_find_device(*api->d.registry, user) : NULL;
    cJSON_Delete(body);
    if (d && d->role != DEVICE_ADMIN) return d;
    *rc = fail(res, HTTP_STATUS_BAD_REQUEST, "bad_request", "send the \"username\" of a device (not an admin)");
    return NULL;
}

static int post_device_unpair(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    NEED_SESSION(api, req, res);
    int rc = 0;
    const registry_device *d = device_of(api, req, res, &rc);
    if (!d) return rc;
    admin_op *op = new_op(api, OP_UNPAIR, req->id);
    if (!op) return fail(res, HTTP_STATUS_SERVICE_UNAVAILABLE, "busy", "too many changes at once; try again");
    snprintf(op->user, sizeof op->user, "%s", d->username);
    pairing_revoke_device(&api->pairings, d->username);
    return set_new_password(api, op, res);
}

/* ---- pairing ---- */

static int pairing_doc(const pairing_entry *e, cJSON *doc)
{
    double now = kb_now_ms();
    long long wall = kb_wall_ms();
    cJSON_AddStringToObject(doc, "code", e->code);
    cJSON_AddStringToObject(doc, "username", e->username);
    add_iso(doc, "expires_at", wall + (long long)(e->expires_ms - now));
    cJSON_AddNumberToObject(doc, "expires_in", (int)((e->expires_ms - now) / 1000));
    return 0;
}

static int post_pairing_create(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    NEED_SESSION(api, req, res);
    int rc = 0;
    const registry_device *d = device_of(api, req, res, &rc);
    if (!d) return rc;
    const pairing_entry *e = pairing_create(&api->pairings, d->username, kb_now_ms());
    if (!e) return fail(res, HTTP_STATUS_SERVICE_UNAVAILABLE, "random", "no random bytes for a code");
    /* The address the admin's browser reached us on: the tablets on that LAN reach it too. */
    const char *host = req->host;
    char fallback[80];
    if (!host[0] || !charset_is(host, 255, CHARSET_LOWER | CHARSET_UPPER | CHARSET_DIGITS, ".:-[]")) {
        snprintf(fallback, sizeof fallback, "127.0.0.1:%d", api->d.config->http_port);
        host = fallback;
    }
    char url[400];
    snprintf(url, sizeof url, "http://%s/pair?code=%s", host, e->code);
    cJSON *doc = cJSON_CreateObject();
    pairing_doc(e, doc);
    cJSON_AddStringToObject(doc, "url", url);
    log_info("pairing opened for %s", d->username);
    return answer(res, HTTP_STATUS_OK, doc);
}

static int get_pairings(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    NEED_SESSION(api, req, res);
    cJSON *doc = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(doc, "pairings");
    for (int i = 0; i < PAIRING_MAX; i++) {
        const pairing_entry *e = pairing_open_at(&api->pairings, i, kb_now_ms());
        if (!e) continue;
        cJSON *o = cJSON_CreateObject();
        pairing_doc(e, o);
        cJSON_AddItemToArray(list, o);
    }
    return answer(res, HTTP_STATUS_OK, doc);
}

static int post_pairing_revoke(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    NEED_SESSION(api, req, res);
    int rc = 0;
    cJSON *body = body_object(req, res, &rc);
    if (!body) return rc;
    const char *code = str(body, "code");
    char norm[PAIRING_CODE_LEN + 1];
    int ok = code && pairing_normalise(code, norm) == 0 && pairing_revoke(&api->pairings, norm, kb_now_ms()) == 0;
    cJSON_Delete(body);
    if (!ok) return fail(res, HTTP_STATUS_NOT_FOUND, "unknown_code", "there is no open pairing with that code");
    return answer(res, HTTP_STATUS_OK, cJSON_CreateObject());
}

static int post_pair(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    double now = kb_now_ms();
    if (!ratelimit_allowed(&api->codes, req->peer, now))
        return fail(res, 429, "rate_limited", "too many wrong codes from this tablet; wait a minute and try again");
    int rc = 0;
    cJSON *body = body_object(req, res, &rc);
    if (!body) return rc;
    const char *code = str(body, "code");
    char norm[PAIRING_CODE_LEN + 1], user[REGISTRY_ID_MAX + 1];
    pairing_state st = code && pairing_normalise(code, norm) == 0 ? pairing_take(&api->pairings, norm, now, user)
                                                                   : PAIRING_UNKNOWN;
    cJSON_Delete(body);
    const registry_device *d = st == PAIRING_OPEN ? registry_find_device(*api->d.registry, user) : NULL;
    if (st == PAIRING_OPEN && !d) st = PAIRING_REVOKED;
    if (st != PAIRING_OPEN) {
        static const char *const why[] = {
            [PAIRING_USED] = "this pairing code has already been used; ask the manager for a new one",
            [PAIRING_REVOKED] = "this pairing code was cancelled; ask the manager for a new one",
            [PAIRING_EXPIRED] = "this pairing code has expired; ask the manager for a new one",
            [PAIRING_UNKNOWN] = "there is no such pairing code; check it, or ask the manager for a new one"};
        ratelimit_fail(&api->codes, req->peer, now);
        log_warn("pairing refused from %s: %s", req->peer, pairing_state_name(st));
        return fail(res, st == PAIRING_UNKNOWN ? HTTP_STATUS_NOT_FOUND : HTTP_STATUS_GONE, pairing_state_name(st), "%s",
                    why[st]);
    }
    admin_op *op = new_op(api, OP_PAIR, req->id);
    if (!op) {
        pairing_reopen(&api->pairings, norm, now);
        return fail(res, HTTP_STATUS_SERVICE_UNAVAILABLE, "busy", "too many pairings at once; try again");
    }
    snprintf(op->user, sizeof op->user, "%s", d->username);
    snprintf(op->peer, sizeof op->peer, "%s", req->peer);
    memcpy(op->code, norm, sizeof norm);
    int out = set_new_password(api, op, res);
    if (out != HTTP_DEFERRED) pairing_reopen(&api->pairings, norm, now);
    return out;
}

/* ---- health at a glance ---- */

typedef struct {
    admin_api *api;
    cJSON *tenants;
} overview_ctx;

static int add_open(void *ctx, const char *tenant, int64_t n, const char *oldest)
{
    overview_ctx *o = ctx;
    cJSON *t;
    cJSON_ArrayForEach(t, o->tenants) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "id");
        if (!cJSON_IsString(id) || strcmp(id->valuestring, tenant) != 0) continue;
        cJSON_ReplaceItemInObjectCaseSensitive(t, "open_orders", cJSON_CreateNumber((double)n));
        long long at = oldest ? kb_iso_parse_ms(oldest) : -1;
        if (at > 0) {
            double age = (double)(kb_wall_ms() - at) / 1000.0;
            cJSON_ReplaceItemInObjectCaseSensitive(t, "oldest_open_age_s", cJSON_CreateNumber(age > 0 ? (int)age : 0));
        }
    }
    return 0;
}

static int get_overview(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    NEED_SESSION(api, req, res);
    const registry *r = *api->d.registry;
    int ok;
    char *health = health_json(api->d.status, api->d.pipeline, r, &ok);
    cJSON *doc = cJSON_CreateObject();
    cJSON *h = health ? json_parse_exact(health, strlen(health)) : NULL;
    free(health);
    cJSON_AddItemToObject(doc, "health", h ? h : cJSON_CreateNull());
    cJSON *tenants = cJSON_AddArrayToObject(doc, "tenants");
    for (size_t i = 0; i < r->n_tenants; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "id", r->tenants[i].id);
        cJSON_AddStringToObject(t, "name", r->tenants[i].name);
        cJSON_AddNumberToObject(t, "open_orders", 0);
        cJSON_AddNullToObject(t, "oldest_open_age_s");
        cJSON_AddNumberToObject(t, "screens_online",
                                presence_count(api->d.presence, r, (int)i, DEVICE_KITCHEN) +
                                    presence_count(api->d.presence, r, (int)i, DEVICE_EXPO));
        cJSON_AddItemToArray(tenants, t);
    }
    overview_ctx o = {api, tenants};
    journal_count_open(pipeline_journal(api->d.pipeline), add_open, &o);
    return answer(res, HTTP_STATUS_OK, doc);
}

/* ---- reports ---- */

/* The value of `name` in a '&'-joined query, into buf; 0, or -1 if absent. */
static int query_arg(const char *query, const char *name, char *buf, size_t len)
{
    size_t n = strlen(name);
    for (const char *p = query; *p;) {
        const char *end = strchr(p, '&');
        size_t item = end ? (size_t)(end - p) : strlen(p);
        if (item > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            if (item - n - 1 >= len) return -1;
            memcpy(buf, p + n + 1, item - n - 1);
            buf[item - n - 1] = '\0';
            return 0;
        }
        p += item + (end ? 1 : 0);
    }
    return -1;
}

static void run_reports(lws_sorted_usec_list_t *sul);

static void finish_report(admin_api *api, int i, int ok, const char *why)
{
    char *body = NULL;
    if (ok) {
        body = api->reports[i].csv ? report_csv(api->reports[i].rp)
                                   : report_json(api->reports[i].rp, (int)(api->d.config->retention_ms / 86400000));
    }
    if (body) {
        http_response res = {HTTP_STATUS_OK, api->reports[i].csv ? "text/csv; charset=utf-8" : NULL, body, NULL};
        http_server_reply(api->http, api->reports[i].request, &res);
    } else {
        fail_later(api, api->reports[i].request, HTTP_STATUS_INTERNAL_SERVER_ERROR, "report", "%s",
                   why ? why : "out of memory");
    }
    report_free(api->reports[i].rp);
    api->reports[i].rp = NULL;
}

/* One slice of every running report, then the loop goes on. */
static void run_reports(lws_sorted_usec_list_t *sul)
{
    admin_api *api = lws_container_of(sul, admin_api, report_sul);
    int more = 0;
    for (int i = 0; i < REPORTS_MAX; i++) {
        if (!api->reports[i].rp) continue;
        char err[256];
        int rc = report_step(api->reports[i].rp, REPORT_SLICE_ROWS, REPORT_SLICE_MS, err, sizeof err);
        if (rc == 0) more = 1;
        else finish_report(api, i, rc > 0, rc < 0 ? err : NULL);
    }
    if (more) lws_sul_schedule(api->d.lws, 0, &api->report_sul, run_reports, 1);
}

static int get_reports(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    NEED_SESSION(api, req, res);
    char tenant[64] = "", from[64] = "", to[64] = "", by[16] = "hour", tz[16] = "", format[8] = "json", err[256];
    if (query_arg(req->query, "tenant", tenant, sizeof tenant) || query_arg(req->query, "from", from, sizeof from) ||
        query_arg(req->query, "to", to, sizeof to))
        return fail(res, HTTP_STATUS_BAD_REQUEST, "bad_request", "send tenant (an id or *), from and to (ISO times)");
    query_arg(req->query, "by", by, sizeof by);
    query_arg(req->query, "tz", tz, sizeof tz);
    query_arg(req->query, "format", format, sizeof format);
    report_query q = {strcmp(tenant, "*") == 0 ? NULL : tenant, kb_iso_parse_ms(from), kb_iso_parse_ms(to),
                      REPORT_BY_HOUR, 0};
    if (q.from_ms < 0 || q.to_ms < 0)
        return fail(res, HTTP_STATUS_BAD_REQUEST, "bad_request",
                    "from and to must be ISO times such as 2026-11-02T00:00:00Z");
    if (strcmp(by, "day") == 0) q.by = REPORT_BY_DAY;
    else if (strcmp(by, "station") == 0) q.by = REPORT_BY_STATION;
    else if (strcmp(by, "hour") != 0) return fail(res, HTTP_STATUS_BAD_REQUEST, "bad_request", "by must be hour, day or station");
    if (report_parse_tz(tz, &q.tz_minutes) != 0)
        return fail(res, HTTP_STATUS_BAD_REQUEST, "bad_request", "tz must be an offset such as +07:00");
    if (strcmp(format, "json") != 0 && strcmp(format, "csv") != 0)
        return fail(res, HTTP_STATUS_BAD_REQUEST, "bad_request", "format must be json or csv");
    int slot = -1;
    for (int i = 0; i < REPORTS_MAX && slot < 0; i++)
        if (!api->reports[i].rp) slot = i;
    if (slot < 0) return fail(res, HTTP_STATUS_SERVICE_UNAVAILABLE, "busy", "%d reports are running; try again", REPORTS_MAX);
    report *rp = report_start(journal_path(pipeline_journal(api->d.pipeline)), &q, *api->d.registry, err, sizeof err);
    if (!rp) return fail(res, HTTP_STATUS_BAD_REQUEST, "bad_request", "%s", err);
    api->reports[slot].rp = rp;
    api->reports[slot].request = req->id;
    api->reports[slot].csv = strcmp(format, "csv") == 0;
    lws_sul_schedule(api->d.lws, 0, &api->report_sul, run_reports, 1);
    return HTTP_DEFERRED;
}

/* Tests only (KB_TEST_CLOCK=1): sets the bridge's wall clock. */
/* ---- printers ---- */

static int get_printers(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    NEED_SESSION(api, req, res);
    int degraded;
    cJSON *list = printing_status_json(api->d.printing, &degraded);
    if (!list) return -1;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "printing", degraded ? "degraded" : "ok");
    cJSON_AddItemToObject(doc, "printers", list);
    return answer(res, HTTP_STATUS_OK, doc);
}

static int post_printer_test(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    NEED_SESSION(api, req, res);
    int rc = 0;
    cJSON *body = body_object(req, res, &rc);
    if (!body) return rc;
    const char *key = str(body, "printer");
    char err[200];
    rc = key ? printing_test(api->d.printing, key, err, sizeof err) : -1;
    if (!key) snprintf(err, sizeof err, "name the printer: {\"printer\": \"<tenant>\" or \"<tenant>/<station>\"}");
    else if (rc == 0) log_info("test print queued on printer %s", key);
    cJSON_Delete(body);
    if (rc != 0) return fail(res, HTTP_STATUS_BAD_REQUEST, "printer", "%s", err);
    return answer(res, HTTP_STATUS_OK, cJSON_CreateObject());
}

static int post_order_reprint(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    NEED_SESSION(api, req, res);
    int rc = 0;
    cJSON *body = body_object(req, res, &rc);
    if (!body) return rc;
    const char *tenant = str(body, "tenant"), *number = str(body, "order_number"), *station = str(body, "station");
    char err[200];
    if (!tenant || !number) {
        rc = -1;
        snprintf(err, sizeof err, "give tenant and order_number (and station, for one station's printer)");
    } else {
        rc = printing_reprint(api->d.printing, tenant, number, station, err, sizeof err);
    }
    if (rc == 0) log_info("reprint of %s/%s queued", tenant, number);
    cJSON_Delete(body);
    if (rc != 0) return fail(res, HTTP_STATUS_BAD_REQUEST, "reprint", "%s", err);
    return answer(res, HTTP_STATUS_OK, cJSON_CreateObject());
}

static int post_test_clock(void *ctx, const http_request *req, http_response *res)
{
    admin_api *api = ctx;
    NEED_SESSION(api, req, res);
    int rc = 0;
    cJSON *body = body_object(req, res, &rc);
    if (!body) return rc;
    long long now = kb_iso_parse_ms(str(body, "now"));
    cJSON_Delete(body);
    if (now < 0) return fail(res, HTTP_STATUS_BAD_REQUEST, "bad_request", "send {\"now\": \"<ISO time>\"}");
    kb_clock_set_test(now);
    cJSON *doc = cJSON_CreateObject();
    add_iso(doc, "now", kb_wall_ms());
    return answer(res, HTTP_STATUS_OK, doc);
}

/* ---- wiring ---- */

admin_api *admin_api_new(const admin_api_deps *deps, http_server *srv)
{
    admin_api *api = calloc(1, sizeof *api);
    if (!api) return NULL;
    api->d = *deps;
    api->http = srv;
    admin_sessions_init(&api->sessions);
    pairings_init(&api->pairings, (double)deps->config->pairing_ttl_ms);
    ratelimit_init(&api->logins, FAILURES_PER_MINUTE, 60000.0);
    ratelimit_init(&api->codes, FAILURES_PER_MINUTE, 60000.0);
    static const struct {
        const char *method, *path;
        http_handler_fn fn;
        int flags;
    } routes[] = {
        {"POST", "/api/login", post_login, HTTP_ROUTE_ADMIN},
        {"POST", "/api/logout", post_logout, HTTP_ROUTE_ADMIN},
        {"GET", "/api/session", get_session, HTTP_ROUTE_ADMIN},
        {"GET", "/api/outlet", get_outlet, HTTP_ROUTE_ADMIN},
        {"GET", "/api/devices", get_devices, HTTP_ROUTE_ADMIN},
        {"GET", "/api/overview", get_overview, HTTP_ROUTE_ADMIN},
        {"GET", "/api/pairings", get_pairings, HTTP_ROUTE_ADMIN},
        {"POST", "/api/device/unpair", post_device_unpair, HTTP_ROUTE_ADMIN},
        {"POST", "/api/pairing/create", post_pairing_create, HTTP_ROUTE_ADMIN},
        {"POST", "/api/pairing/revoke", post_pairing_revoke, HTTP_ROUTE_ADMIN},
        {"POST", "/api/pair", post_pair, 0}, /* the tablet being paired: any address */
        {"GET", "/api/reports", get_reports, HTTP_ROUTE_ADMIN},
        {"GET", "/api/printers", get_printers, HTTP_ROUTE_ADMIN},
        {"POST", "/api/printer/test", post_printer_test, HTTP_ROUTE_ADMIN},
        {"POST", "/api/order/reprint", post_order_reprint, HTTP_ROUTE_ADMIN},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (http_server_route(srv, routes[i].method, routes[i].path, routes[i].flags, routes[i].fn, api) != 0) {
            free(api);
            return NULL;
        }
    static const struct {
        const char *path;
        edit_fn edit;
    } edits[] = {{"/api/tenant/add", edit_add_tenant},     {"/api/tenant/rename", edit_rename_tenant},
                 {"/api/station/add", edit_add_station},   {"/api/device/add", edit_add_device},
                 {"/api/device/remove", edit_remove_device}};
    _Static_assert(sizeof edits / sizeof *edits == sizeof api->edits / sizeof *api->edits, "one ctx per route");
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        api->edits[i] = (registry_route){api, edits[i].edit};
        if (http_server_route(srv, "POST", edits[i].path, HTTP_ROUTE_ADMIN, post_registry_change, &api->edits[i]) != 0) {
            free(api);
            return NULL;
        }
    }
    if (deps->config->test_clock &&
        http_server_route(srv, "POST", "/api/test/clock", HTTP_ROUTE_ADMIN, post_test_clock, api) != 0) {
        free(api);
        return NULL;
    }
    return api;
}

void admin_api_set_auth(admin_api *api, legacy_auth *auth) { api->auth = auth; }

void admin_api_registry_changed(admin_api *api)
{
    const registry *r = *api->d.registry;
    admin_sessions_prune(&api->sessions, r);
    for (int i = 0; i < PAIRING_MAX; i++) {
        const pairing_entry *e = pairing_open_at(&api->pairings, i, kb_now_ms());
        if (e && !registry_find_device(r, e->username)) pairing_revoke_device(&api->pairings, e->username);
    }
}

void admin_api_free(admin_api *api)
{
    if (!api) return;
    for (int i = 0; i < OPS_MAX; i++) end_op(&api->ops[i]);
    lws_sul_cancel(&api->report_sul);
    for (int i = 0; i < REPORTS_MAX; i++) report_free(api->reports[i].rp);
    memset(&api->sessions, 0, sizeof api->sessions);
    free(api);
}
