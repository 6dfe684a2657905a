/* admin_sessions.h - who is logged in to the admin page.
 *
 * A session is a 256-bit random token (the kb_admin cookie) with its own
 * 128-bit CSRF token, for one admin account. It ends ADMIN_IDLE_MS after its
 * last use or ADMIN_MAX_MS after the login, whichever is first. At most
 * ADMIN_SESSIONS_MAX live at once; a login beyond that ends the session
 * used longest ago. In memory only: a restart logs everyone out. Times are
 * the caller's (kb_now_ms). Tokens are compared in constant time. */
#ifndef KB_ADMIN_SESSIONS_H
#define KB_ADMIN_SESSIONS_H

#include "registry.h"

#define ADMIN_SESSIONS_MAX 32
#define ADMIN_IDLE_MS (15 * 60 * 1000.0)
#define ADMIN_MAX_MS (8 * 3600 * 1000.0)
#define ADMIN_COOKIE "kb_admin"

typedef struct {
    char token[65]; /* "" = free slot */
    char csrf[33];
    char user[REGISTRY_ID_MAX + 1];
    double created_ms, last_ms;
} admin_session;

typedef struct {
    admin_session s[ADMIN_SESSIONS_MAX];
} admin_sessions;

void admin_sessions_init(admin_sessions *a);
/* A new session for user: the entry, or NULL if no random bytes. */
const admin_session *admin_session_create(admin_sessions *a, const char *user, double now_ms);
/* The live session named by a Cookie header, its last use set to now; NULL
 * if none (absent, unknown, or expired: an expired one is ended). */
admin_session *admin_session_find(admin_sessions *a, const char *cookie_header, double now_ms);
void admin_session_end(admin_sessions *a, admin_session *s);
/* Ends the sessions of users the registry no longer has as admins. */
void admin_sessions_prune(admin_sessions *a, const registry *r);
/* Seconds until s expires, from now. */
int admin_session_expires_in(const admin_session *s, double now_ms);

#endif
