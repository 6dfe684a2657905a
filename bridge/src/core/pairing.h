/* pairing.h - the open pairings: short codes an admin hands a tablet, each
 * good once, for one device, until it expires (KB_PAIRING_TTL).
 *
 * Invariants: at most one open pairing per device (a new one revokes the
 * old); at most PAIRING_MAX open at once (the oldest is dropped); a code is
 * PAIRING_CODE_LEN characters of PAIRING_ALPHABET, which has no look-alikes
 * (no 0/O, 1/I/L). A code that was used, revoked or expired is remembered
 * (until PAIRING_MAX newer ones push it out) so its error says which. Times
 * are the caller's (kb_now_ms); codes come from base/secret. In memory only:
 * a restart forgets every pairing, which is safe (the admin makes a new one). */
#ifndef KB_PAIRING_H
#define KB_PAIRING_H

#include <stddef.h>

#include "registry.h"

#define PAIRING_CODE_LEN 8
#define PAIRING_ALPHABET "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#define PAIRING_MAX 64

typedef enum { PAIRING_OPEN, PAIRING_USED, PAIRING_REVOKED, PAIRING_EXPIRED, PAIRING_UNKNOWN } pairing_state;

typedef struct {
    char code[PAIRING_CODE_LEN + 1];
    char username[REGISTRY_ID_MAX + 1];
    double created_ms, expires_ms;
    pairing_state state;
} pairing_entry;

typedef struct {
    double ttl_ms;
    pairing_entry e[PAIRING_MAX];
} pairings;

void pairings_init(pairings *p, double ttl_ms);
/* A new open pairing for username: the entry, or NULL if no random bytes. */
const pairing_entry *pairing_create(pairings *p, const char *username, double now_ms);
/* Upper-cases `in` and drops spaces and dashes into out (PAIRING_CODE_LEN + 1
 * bytes): 0, or -1 if the result is not a well-formed code. */
int pairing_normalise(const char *in, char *out);
/* Takes an open code: PAIRING_OPEN (it is now used; *username is set) or
 * the reason it cannot be taken. */
pairing_state pairing_take(pairings *p, const char *code, double now_ms, char username[REGISTRY_ID_MAX + 1]);
/* Gives a code taken a moment ago back (the broker could not set the
 * device's password): open again unless it has expired meanwhile. */
void pairing_reopen(pairings *p, const char *code, double now_ms);
/* Revokes an open code: 0, or -1 if there is no such open one. */
int pairing_revoke(pairings *p, const char *code, double now_ms);
/* Revokes the open pairing of username, if any (the device was removed or unpaired). */
void pairing_revoke_device(pairings *p, const char *username);
/* The i-th open pairing (0..PAIRING_MAX-1), NULL if that slot is not open now. */
const pairing_entry *pairing_open_at(const pairings *p, int i, double now_ms);
const char *pairing_state_name(pairing_state s);

#endif
