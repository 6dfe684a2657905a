/* admin_api.h - the admin HTTP API (docs/ADMIN-API.md) behind /admin: login
 * sessions with CSRF tokens, the outlet's registry read and changed, device
 * presence, pairing tablets by code, health at a glance.
 *
 * It lives in the app because it is where the layers meet: it answers on
 * the HTTP adapter, checks passwords through a legacy_auth of its own (the
 * broker says yes or no), sets device passwords through dynsec_sync, and
 * keeps its state in core modules (admin_sessions, pairing, presence,
 * registry_store) that know none of that. Printers: their state, a test
 * print and a reprint (core/printing.c). Every handler runs on the loop.
 *
 * A registry change: checks the session, the CSRF token and the version;
 * re-reads the file (a hand edit not yet reloaded makes the change stale);
 * edits its JSON (model/registry_edit.c); checks the result with the
 * registry's own parser; saves it (core/registry_store.c); then calls
 * `reload`, which applies it exactly as a SIGHUP does. */
#ifndef KB_ADMIN_API_H
#define KB_ADMIN_API_H

#include <stdint.h>

#include "config.h"
#include "dynsec_sync.h"
#include "http_server.h"
#include "legacy_auth.h"
#include "legacy_gateway.h"
#include "order_pipeline.h"
#include "presence.h"
#include "printing.h"
#include "registry.h"
#include "status.h"

typedef struct admin_api admin_api;

typedef struct {
    const kb_config *config;
    registry *const *registry; /* the app's current registry */
    presence *presence;
    kb_status *status;
    kb_pipeline *pipeline;
    legacy_gateway *legacy;
    dynsec_sync *dynsec;
    /* Re-reads the registry file and applies it (the app's SIGHUP path):
     * 0, or -1 if the file was refused (the old registry stays). */
    int (*reload)(void *ctx);
    void *reload_ctx;
    struct lws_context *lws; /* reports run a slice per turn of its loop */
    printing *printing;      /* the kitchen printers: state, test prints, reprints */
} admin_api_deps;

/* Registers the /api routes on srv. Borrows everything. NULL if out of memory. */
admin_api *admin_api_new(const admin_api_deps *deps, http_server *srv);
/* The checker the API asks about admin passwords (owned by the app, which
 * routes its verdicts to admin_api_auth_done). */
void admin_api_set_auth(admin_api *api, legacy_auth *auth);
/* legacy_auth's verdict callback for admin logins (ctx: the admin_api). */
void admin_api_auth_done(void *ctx, uint32_t request, int verdict);
/* After any registry change (the API's own, or a SIGHUP): ends sessions of
 * removed admins and pairings of removed devices. */
void admin_api_registry_changed(admin_api *api);
void admin_api_free(admin_api *api);

#endif
