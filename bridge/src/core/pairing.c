/* pairing.c - see pairing.h. */
#include "pairing.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "secret.h"

void pairings_init(pairings *p, double ttl_ms)
{
    memset(p, 0, sizeof *p);
    p->ttl_ms = ttl_ms;
}

static void age(pairing_entry *e, double now_ms)
{
    if (e->state == PAIRING_OPEN && now_ms >= e->expires_ms) e->state = PAIRING_EXPIRED;
}

static pairing_entry *find(pairings *p, const char *code)
{
    for (int i = 0; i < PAIRING_MAX; i++)
        if (p->e[i].code[0] && strcmp(p->e[i].code, code) == 0) return &p->e[i];
    return NULL;
}

void pairing_revoke_device(pairings *p, const char *username)
{
    for (int i = 0; i < PAIRING_MAX; i++)
        if (p->e[i].state == PAIRING_OPEN && strcmp(p->e[i].username, username) == 0) p->e[i].state = PAIRING_REVOKED;
}

const pairing_entry *pairing_create(pairings *p, const char *username, double now_ms)
{
    char code[PAIRING_CODE_LEN + 1];
    do {
        if (secret_code(code, PAIRING_CODE_LEN, PAIRING_ALPHABET)) return NULL;
    } while (find(p, code));
    pairing_revoke_device(p, username);
    pairing_entry *slot = &p->e[0];
    for (int i = 0; i < PAIRING_MAX; i++) { /* an empty slot, else the oldest */
        if (!p->e[i].code[0]) {
            slot = &p->e[i];
            break;
        }
        if (p->e[i].created_ms < slot->created_ms) slot = &p->e[i];
    }
    memset(slot, 0, sizeof *slot);
    memcpy(slot->code, code, sizeof code);
    snprintf(slot->username, sizeof slot->username, "%s", username);
    slot->created_ms = now_ms;
    slot->expires_ms = now_ms + p->ttl_ms;
    slot->state = PAIRING_OPEN;
    return slot;
}

int pairing_normalise(const char *in, char *out)
{
    size_t n = 0;
    for (; *in; in++) {
        if (*in == ' ' || *in == '-') continue;
        char c = (char)toupper((unsigned char)*in);
        if (n == PAIRING_CODE_LEN || !strchr(PAIRING_ALPHABET, c) || c == '\0') return -1;
        out[n++] = c;
    }
    out[n] = '\0';
    return n == PAIRING_CODE_LEN ? 0 : -1;
}

pairing_state pairing_take(pairings *p, const char *code, double now_ms, char username[REGISTRY_ID_MAX + 1])
{
    pairing_entry *e = find(p, code);
    if (!e) return PAIRING_UNKNOWN;
    age(e, now_ms);
    if (e->state != PAIRING_OPEN) return e->state;
    e->state = PAIRING_USED;
    memcpy(username, e->username, sizeof e->username);
    return PAIRING_OPEN;
}

void pairing_reopen(pairings *p, const char *code, double now_ms)
{
    pairing_entry *e = find(p, code);
    if (e && e->state == PAIRING_USED) {
        e->state = PAIRING_OPEN;
        age(e, now_ms);
    }
}

int pairing_revoke(pairings *p, const char *code, double now_ms)
{
    pairing_entry *e = find(p, code);
    if (!e) return -1;
    age(e, now_ms);
    if (e->state != PAIRING_OPEN) return -1;
    e->state = PAIRING_REVOKED;
    return 0;
}

const pairing_entry *pairing_open_at(const pairings *p, int i, double now_ms)
{
    const pairing_entry *e = &p->e[i];
    return e->code[0] && e->state == PAIRING_OPEN && now_ms < e->expires_ms ? e : NULL;
}

const char *pairing_state_name(pairing_state s)
{
    switch (s) {
    case PAIRING_OPEN: return "open";
    case PAIRING_USED: return "used_code";
    case PAIRING_REVOKED: return "revoked_code";
    case PAIRING_EXPIRED: return "expired_code";
    default: return "unknown_code";
    }
}
