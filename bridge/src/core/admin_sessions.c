/* admin_sessions.c - see admin_sessions.h. */
#include "admin_sessions.h"

#include <stdio.h>
#include <string.h>

#include "secret.h"

void admin_sessions_init(admin_sessions *a) { memset(a, 0, sizeof *a); }

static int expired(const admin_session *s, double now_ms)
{
    return now_ms - s->last_ms >= ADMIN_IDLE_MS || now_ms - s->created_ms >= ADMIN_MAX_MS;
}

const admin_session *admin_session_create(admin_sessions *a, const char *user, double now_ms)
{
    admin_session *slot = &a->s[0];
    for (int i = 0; i < ADMIN_SESSIONS_MAX; i++) {
        if (!a->s[i].token[0] || expired(&a->s[i], now_ms)) {
            slot = &a->s[i];
            break;
        }
        if (a->s[i].last_ms < slot->last_ms) slot = &a->s[i];
    }
    admin_session fresh = {.created_ms = now_ms, .last_ms = now_ms};
    if (secret_hex(fresh.token, 32) || secret_hex(fresh.csrf, 16)) return NULL;
    snprintf(fresh.user, sizeof fresh.user, "%s", user);
    *slot = fresh;
    return slot;
}

/* The value of cookie `name` in a Cookie header, into buf; 0 or -1. */
static int cookie_value(const char *header, const char *name, char *buf, size_t len)
{
    size_t nlen = strlen(name);
    for (const char *p = header; *p;) {
        while (*p == ' ' || *p == ';') p++;
        const char *end = strchr(p, ';');
        size_t item = end ? (size_t)(end - p) : strlen(p);
        if (item > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t vlen = item - nlen - 1;
            if (vlen >= len) return -1;
            memcpy(buf, p + nlen + 1, vlen);
            buf[vlen] = '\0';
            return 0;
        }
        p += item;
    }
    return -1;
}

admin_session *admin_session_find(admin_sessions *a, const char *cookie_header, double now_ms)
{
    char token[65];
    if (cookie_value(cookie_header, ADMIN_COOKIE, token, sizeof token) != 0) return NULL;
    for (int i = 0; i < ADMIN_SESSIONS_MAX; i++) {
        admin_session *s = &a->s[i];
        if (!s->token[0] || !secret_equal(s->token, token)) continue;
        if (expired(s, now_ms)) {
            admin_session_end(a, s);
            return NULL;
        }
        s->last_ms = now_ms;
        return s;
    }
    return NULL;
}

void admin_session_end(admin_sessions *a, admin_session *s)
{
    (void)a;
    memset(s, 0, sizeof *s);
}

void admin_sessions_prune(admin_sessions *a, const registry *r)
{
    for (int i = 0; i < ADMIN_SESSIONS_MAX; i++) {
        if (!a->s[i].token[0]) continue;
        const registry_device *d = registry_find_device(r, a->s[i].user);
        if (!d || d->role != DEVICE_ADMIN) admin_session_end(a, &a->s[i]);
    }
}

int admin_session_expires_in(const admin_session *s, double now_ms)
{
    double idle = s->last_ms + ADMIN_IDLE_MS - now_ms, hard = s->created_ms + ADMIN_MAX_MS - now_ms;
    double left = idle < hard ? idle : hard;
    return left > 0 ? (int)(left / 1000) : 0;
}
