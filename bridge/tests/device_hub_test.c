/* device_hub_test.c - the device hub's pure and core parts (issue 15), each
 * on its own, with times passed in (never the clock) and, for the registry
 * store, real files in a temp dir.
 *
 * Checked: base/secret (lengths and alphabets of hex, base64url and codes,
 * every letter of a small alphabet drawn, secret_equal, secret_wipe);
 * base/ratelimit (max failures in a window, the window sliding, per
 * address, the least recently heard address replaced when the table is
 * full); core/pairing (codes, single use, expiry at exactly the ttl,
 * revoke, one open pairing per device, reopen, normalise, the open list,
 * the oldest dropped past PAIRING_MAX); core/admin_sessions (the cookie
 * header, idle and hard expiry, end, prune against a registry, expires_in,
 * the least recently used evicted); model/registry_edit (every edit on the
 * demo registry's document, checked whole by registry_parse afterwards,
 * every refusal leaving the document as it was, unknown keys surviving);
 * the registry version; core/presence (updates, since/last_seen, clearing,
 * copied fields, counts, the /api/devices list, the metrics lines); and
 * core/registry_store (save with .bak and mode kept, no .tmp left, a
 * missing folder, read). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "admin_sessions.h"
#include "broker_log.h"
#include "pairing.h"
#include "presence.h"
#include "ratelimit.h"
#include "registry.h"
#include "registry_edit.h"
#include "registry_store.h"
#include "secret.h"

#include "check.h"

static char dir[] = "/tmp/kb-device-hub-test-XXXXXX";

/* broker-config/demo-tenants.json, as it is. */
static const char demo_registry[] =
    "{\n"
    "  \"outlet\": { \"id\": \"demo\", \"name\": \"Demo Food Court\" },\n"
    "  \"demo\": true,\n"
    "  \"legacy\": { \"mode\": \"authenticated\" },\n"
    "  \"tenants\": [\n"
    "    { \"id\": \"pizza\", \"name\": \"Pizza Paradise\",\n"
    "      \"stations\": [\"oven\", \"cold\", \"bar\"],\n"
    "      \"devices\": [ { \"username\": \"pizza-pos\", \"role\": \"pos\" },\n"
    "                   { \"username\": \"pizza-kitchen\", \"role\": \"kitchen\" },\n"
    "                   { \"username\": \"pizza-oven\", \"role\": \"kitchen\", \"station\": \"oven\" },\n"
    "                   { \"username\": \"pizza-cold\", \"role\": \"kitchen\", \"station\": \"cold\" },\n"
    "                   { \"username\": \"pizza-bar\", \"role\": \"kitchen\", \"station\": \"bar\" },\n"
    "                   { \"username\": \"pizza-expo\", \"role\": \"expo\" } ] },\n"
    "    { \"id\": \"burger\", \"name\": \"Burger Station\",\n"
    "      \"devices\": [ { \"username\": \"burger-pos\", \"role\": \"pos\" },\n"
    "                   { \"username\": \"burger-kitchen\", \"role\": \"kitchen\" } ] },\n"
    "    { \"id\": \"noodle\", \"name\": \"Noodle House\",\n"
    "      \"devices\": [ { \"username\": \"noodle-pos\", \"role\": \"pos\" },\n"
    "                   { \"username\": \"noodle-kitchen\", \"role\": \"kitchen\" } ] }\n"
    "  ],\n"
    "  \"boards\": [ { \"username\": \"court-board\", \"tenants\": \"*\" } ],\n"
    "  \"admins\": [ { \"username\": \"admin\" } ]\n"
    "}\n";

static registry *parse_registry(const char *json)
{
    registry *r = NULL;
    char err[256] = "";
    int rc = registry_parse(json, strlen(json), &r, err, sizeof err);
    CHECK(rc == 0);
    if (rc) fprintf(stderr, "registry_parse: %s\n", err);
    return rc ? NULL : r;
}

/* 1 if every character of s is one of `alphabet`. */
static int all_in(const char *s, const char *alphabet)
{
    for (; *s; s++)
        if (!strchr(alphabet, *s)) return 0;
    return 1;
}

/* ---- base/secret ---- */

static void test_secret(void)
{
    static const char hex[] = "0123456789abcdef";
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char a[200], b[200];

    CHECK(secret_hex(a, 16) == 0 && strlen(a) == 32 && all_in(a, hex));
    CHECK(secret_hex(a, 32) == 0 && strlen(a) == 64 && all_in(a, hex));
    CHECK(secret_hex(b, 32) == 0 && strcmp(a, b) != 0);
    CHECK(secret_hex(a, 0) == 0 && a[0] == '\0');
    CHECK(secret_hex(a, 65) == -1);

    /* 4 * ceil(n / 3) minus the padding base64 would add. */
    static const size_t n[] = {0, 1, 2, 3, 4, 5, 16, 18, 32};
    static const size_t want[] = {0, 2, 3, 4, 6, 7, 22, 24, 43};
    for (size_t i = 0; i < sizeof n / sizeof *n; i++) {
        memset(a, 'x', sizeof a);
        CHECK(secret_base64url(a, n[i]) == 0 && strlen(a) == want[i] && all_in(a, b64url));
    }
    CHECK(secret_base64url(a, 18) == 0 && secret_base64url(b, 18) == 0 && strcmp(a, b) != 0);

    /* Only the alphabet's letters, and over many draws every one of them. */
    CHECK(secret_code(a, 150, "xyz") == 0 && strlen(a) == 150 && all_in(a, "xyz"));
    int seen[3] = {0};
    for (int round = 0; round < 10; round++) {
        CHECK(secret_code(a, 100, "xyz") == 0 && all_in(a, "xyz"));
        for (const char *s = a; *s; s++) seen[*s - 'x']++;
    }
    CHECK(seen[0] > 0 && seen[1] > 0 && seen[2] > 0 && seen[0] + seen[1] + seen[2] == 1000);
    CHECK(secret_code(a, 8, PAIRING_ALPHABET) == 0 && strlen(a) == 8 && all_in(a, PAIRING_ALPHABET));
    CHECK(secret_code(a, 5, "q") == 0 && strcmp(a, "qqqqq") == 0);
    CHECK(secret_code(a, 0, "abc") == 0 && a[0] == '\0');
    CHECK(secret_code(a, 4, "") == -1);
    char big[300];
    memset(big, 'a', 257);
    big[257] = '\0';
    CHECK(secret_code(a, 4, big) == -1); /* more than 256 letters */

    CHECK(secret_equal("abc", "abc") == 1);
    CHECK(secret_equal("abc", "abd") == 0);
    CHECK(secret_equal("abd", "abc") == 0);
    CHECK(secret_equal("abc", "abcd") == 0);
    CHECK(secret_equal("abcd", "abc") == 0);
    CHECK(secret_equal("", "") == 1);
    CHECK(secret_equal("", "a") == 0);
    CHECK(secret_equal("a", "") == 0);
    CHECK(secret_hex(a, 32) == 0);
    memcpy(b, a, 65);
    CHECK(secret_equal(a, b) == 1);

    char w[16];
    memset(w, 'x', sizeof w);
    secret_wipe(w, 10);
    int zeros = 1, kept = 1;
    for (int i = 0; i < 10; i++) zeros &= w[i] == 0;
    for (int i = 10; i < 16; i++) kept &= w[i] == 'x';
    CHECK(zeros && kept);
    secret_wipe(w, 0); /* nothing to do, no crash */
}

/* ---- base/ratelimit ---- */

static ratelimit rl; /* 64 entries: static, not on the stack */

static void test_ratelimit(void)
{
    ratelimit_init(&rl, 5, 60000);
    CHECK(ratelimit_allowed(&rl, "10.0.0.1", 0) == 1);
    for (int i = 0; i < 4; i++) ratelimit_fail(&rl, "10.0.0.1", 1000.0 * i);
    CHECK(ratelimit_allowed(&rl, "10.0.0.1", 3500) == 1); /* 4 of 5 */
    ratelimit_fail(&rl, "10.0.0.1", 4000);
    CHECK(ratelimit_allowed(&rl, "10.0.0.1", 4000) == 0);
    CHECK(ratelimit_allowed(&rl, "10.0.0.1", 59999) == 0);
    /* Per address. */
    CHECK(ratelimit_allowed(&rl, "10.0.0.2", 4000) == 1);
    CHECK(ratelimit_allowed(&rl, "10.0.0.10", 4000) == 1);
    /* At 60000 the first failure (at 0) has aged out. */
    CHECK(ratelimit_allowed(&rl, "10.0.0.1", 60000) == 1);
    ratelimit_fail(&rl, "10.0.0.1", 60000); /* 5 again in the window */
    CHECK(ratelimit_allowed(&rl, "10.0.0.1", 60000) == 0);
    CHECK(ratelimit_allowed(&rl, "10.0.0.1", 60999) == 0);
    CHECK(ratelimit_allowed(&rl, "10.0.0.1", 61000) == 1);
    /* After a whole window without failures: allowed, and a fresh count. */
    CHECK(ratelimit_allowed(&rl, "10.0.0.1", 200000) == 1);
    for (int i = 0; i < 4; i++) ratelimit_fail(&rl, "10.0.0.1", 200000 + i);
    CHECK(ratelimit_allowed(&rl, "10.0.0.1", 200010) == 1);
    ratelimit_fail(&rl, "10.0.0.1", 200010);
    CHECK(ratelimit_allowed(&rl, "10.0.0.1", 200010) == 0);

    /* max is kept within 1..RATELIMIT_MAX. */
    ratelimit_init(&rl, 0, 1000);
    CHECK(rl.max == 1);
    ratelimit_fail(&rl, "a", 0);
    CHECK(ratelimit_allowed(&rl, "a", 1) == 0);
    ratelimit_init(&rl, 1000, 1000);
    CHECK(rl.max == RATELIMIT_MAX);
    for (int i = 0; i < RATELIMIT_MAX - 1; i++) ratelimit_fail(&rl, "a", i);
    CHECK(ratelimit_allowed(&rl, "a", 100) == 1);
    ratelimit_fail(&rl, "a", 100);
    CHECK(ratelimit_allowed(&rl, "a", 100) == 0);

    /* A full table: RATELIMIT_ADDRS + 1 addresses replace the one heard from
     * longest ago (max 1, so each listed address is refused). */
    char addr[32];
    ratelimit_init(&rl, 1, 1e9);
    for (int i = 0; i <= RATELIMIT_ADDRS; i++) {
        snprintf(addr, sizeof addr, "192.168.0.%d", i);
        ratelimit_fail(&rl, addr, i);
    }
    CHECK(ratelimit_allowed(&rl, "192.168.0.0", 1000) == 1); /* replaced */
    int refused = 0;
    for (int i = 1; i <= RATELIMIT_ADDRS; i++) {
        snprintf(addr, sizeof addr, "192.168.0.%d", i);
        refused += ratelimit_allowed(&rl, addr, 1000) == 0;
    }
    CHECK(refused == RATELIMIT_ADDRS);
    /* A new failure makes an address recent again: the next one goes. */
    ratelimit_init(&rl, 1, 1e9);
    for (int i = 0; i < RATELIMIT_ADDRS; i++) {
        snprintf(addr, sizeof addr, "192.168.0.%d", i);
        ratelimit_fail(&rl, addr, i);
    }
    ratelimit_fail(&rl, "192.168.0.0", 500);
    ratelimit_fail(&rl, "192.168.1.1", 501);
    CHECK(ratelimit_allowed(&rl, "192.168.0.0", 1000) == 0);
    CHECK(ratelimit_allowed(&rl, "192.168.0.1", 1000) == 1); /* replaced */
    CHECK(ratelimit_allowed(&rl, "192.168.0.2", 1000) == 0);
    CHECK(ratelimit_allowed(&rl, "192.168.1.1", 1000) == 0);
}

/* ---- core/pairing ---- */

static pairings pp;

static int open_count(const pairings *p, double now_ms)
{
    int n = 0;
    for (int i = 0; i < PAIRING_MAX; i++) n += pairing_open_at(p, i, now_ms) != NULL;
    return n;
}

static int open_listed(const pairings *p, const char *code, double now_ms)
{
    for (int i = 0; i < PAIRING_MAX; i++) {
        const pairing_entry *e = pairing_open_at(p, i, now_ms);
        if (e && strcmp(e->code, code) == 0) return 1;
    }
    return 0;
}

static void test_pairing(void)
{
    char user[REGISTRY_ID_MAX + 1], code[PAIRING_CODE_LEN + 1], old[PAIRING_CODE_LEN + 1];
    const pairing_entry *e;

    CHECK(strlen(PAIRING_ALPHABET) == 31);
    CHECK(!strpbrk(PAIRING_ALPHABET, "01OIL"));

    /* Create, then take once. */
    pairings_init(&pp, 60000);
    e = pairing_create(&pp, "pizza-pos", 1000);
    CHECK(e != NULL);
    if (!e) return;
    CHECK(strlen(e->code) == PAIRING_CODE_LEN && all_in(e->code, PAIRING_ALPHABET));
    CHECK(strcmp(e->username, "pizza-pos") == 0 && e->state == PAIRING_OPEN);
    CHECK(e->created_ms == 1000 && e->expires_ms == 61000);
    memcpy(code, e->code, sizeof code);
    CHECK(open_count(&pp, 1000) == 1 && open_listed(&pp, code, 1000));
    memset(user, 0, sizeof user);
    CHECK(pairing_take(&pp, code, 2000, user) == PAIRING_OPEN && strcmp(user, "pizza-pos") == 0);
    CHECK(pairing_take(&pp, code, 2001, user) == PAIRING_USED);
    CHECK(open_count(&pp, 2001) == 0);
    CHECK(pairing_revoke(&pp, code, 2002) == -1); /* used: not open */
    CHECK(pairing_take(&pp, "ABCDEFGH", 2000, user) == PAIRING_UNKNOWN);
    CHECK(strcmp(pairing_state_name(PAIRING_USED), "used_code") == 0);
    CHECK(strcmp(pairing_state_name(PAIRING_EXPIRED), "expired_code") == 0);
    CHECK(strcmp(pairing_state_name(PAIRING_REVOKED), "revoked_code") == 0);
    CHECK(strcmp(pairing_state_name(PAIRING_UNKNOWN), "unknown_code") == 0);

    /* Expiry at exactly the ttl: good at 60999, expired at 61000. */
    pairings_init(&pp, 60000);
    e = pairing_create(&pp, "a", 1000);
    memcpy(code, e->code, sizeof code);
    CHECK(pairing_open_at(&pp, (int)(e - pp.e), 60999) == e);
    CHECK(pairing_open_at(&pp, (int)(e - pp.e), 61000) == NULL);
    CHECK(pairing_take(&pp, code, 61000, user) == PAIRING_EXPIRED);
    CHECK(pairing_take(&pp, code, 61001, user) == PAIRING_EXPIRED);
    CHECK(pairing_revoke(&pp, code, 61002) == -1);
    e = pairing_create(&pp, "b", 1000);
    memcpy(code, e->code, sizeof code);
    CHECK(pairing_take(&pp, code, 60999, user) == PAIRING_OPEN && strcmp(user, "b") == 0);

    /* Revoke before use. */
    pairings_init(&pp, 60000);
    e = pairing_create(&pp, "a", 1000);
    memcpy(code, e->code, sizeof code);
    CHECK(pairing_revoke(&pp, code, 2000) == 0);
    CHECK(pairing_revoke(&pp, code, 2001) == -1);
    CHECK(pairing_revoke(&pp, "ABCDEFGH", 2001) == -1);
    CHECK(pairing_take(&pp, code, 2002, user) == PAIRING_REVOKED);
    CHECK(open_count(&pp, 2002) == 0);
    pairing_reopen(&pp, code, 2003); /* only a used code reopens */
    CHECK(pairing_take(&pp, code, 2004, user) == PAIRING_REVOKED);
    e = pairing_create(&pp, "b", 3000);
    memcpy(code, e->code, sizeof code);
    pairing_revoke_device(&pp, "b");
    CHECK(pairing_take(&pp, code, 3001, user) == PAIRING_REVOKED);

    /* A new pairing for the same device revokes the old one. */
    pairings_init(&pp, 60000);
    e = pairing_create(&pp, "pizza-pos", 1000);
    memcpy(old, e->code, sizeof old);
    pairing_create(&pp, "burger-pos", 1500);
    e = pairing_create(&pp, "pizza-pos", 2000);
    memcpy(code, e->code, sizeof code);
    CHECK(strcmp(old, code) != 0);
    CHECK(open_count(&pp, 2000) == 2 && !open_listed(&pp, old, 2000) && open_listed(&pp, code, 2000));
    CHECK(pairing_take(&pp, old, 2100, user) == PAIRING_REVOKED);
    CHECK(pairing_take(&pp, code, 2100, user) == PAIRING_OPEN && strcmp(user, "pizza-pos") == 0);

    /* Reopen after a take: open again; not once it has expired. */
    pairings_init(&pp, 60000);
    e = pairing_create(&pp, "a", 1000);
    memcpy(code, e->code, sizeof code);
    CHECK(pairing_take(&pp, code, 2000, user) == PAIRING_OPEN);
    pairing_reopen(&pp, code, 3000);
    CHECK(open_listed(&pp, code, 3000));
    CHECK(pairing_take(&pp, code, 4000, user) == PAIRING_OPEN && strcmp(user, "a") == 0);
    CHECK(pairing_take(&pp, code, 4001, user) == PAIRING_USED);
    e = pairing_create(&pp, "b", 1000);
    memcpy(code, e->code, sizeof code);
    CHECK(pairing_take(&pp, code, 60000, user) == PAIRING_OPEN);
    pairing_reopen(&pp, code, 61000); /* expired meanwhile */
    CHECK(!open_listed(&pp, code, 61000));
    CHECK(pairing_take(&pp, code, 61001, user) == PAIRING_EXPIRED);
    pairing_reopen(&pp, "ABCDEFGH", 1000); /* unknown: nothing happens */

    /* Normalise: upper case, spaces and dashes dropped, look-alikes and
     * wrong lengths refused. */
    char out[PAIRING_CODE_LEN + 1];
    CHECK(pairing_normalise("K7PX3MWQ", out) == 0 && strcmp(out, "K7PX3MWQ") == 0);
    CHECK(pairing_normalise("k7px3mwq", out) == 0 && strcmp(out, "K7PX3MWQ") == 0);
    CHECK(pairing_normalise("k7px-3mwq", out) == 0 && strcmp(out, "K7PX3MWQ") == 0);
    CHECK(pairing_normalise(" K7 PX - 3M WQ ", out) == 0 && strcmp(out, "K7PX3MWQ") == 0);
    CHECK(pairing_normalise("--k7px3mwq--", out) == 0 && strcmp(out, "K7PX3MWQ") == 0);
    CHECK(pairing_normalise("23456789", out) == 0 && strcmp(out, "23456789") == 0);
    static const char *const refused[] = {
        "",          "K7PX3MW",    "K7PX3MWQ2",  "K7PX-3MW",  "   -  ",    "K7PX3MW0", "K7PX3MWO", "K7PX3MW1",
        "K7PX3MWI",  "K7PX3MWL",   "k7px3mwo",   "k7px3mwi",  "k7px3mwl",  "K7PX_3MW", "K7PX.3MW", "K7PX\t3MW",
        "K7PX3MW\xc3\x84", "K7PX3MWQK7PX3MWQK7PX3MWQK7PX3MWQK7PX3MWQK7PX3MWQ",
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        int rc = pairing_normalise(refused[i], out);
        CHECK(rc == -1);
        if (rc != -1) fprintf(stderr, "  pairing_normalise accepted \"%s\" as \"%s\"\n", refused[i], out);
    }
    /* A created code, lower-cased and dashed, comes back as itself. */
    pairings_init(&pp, 60000);
    e = pairing_create(&pp, "a", 0);
    char typed[16];
    snprintf(typed, sizeof typed, "%.4s-%s", e->code, e->code + 4);
    for (char *c = typed; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    CHECK(pairing_normalise(typed, out) == 0 && strcmp(out, e->code) == 0);

    /* The open list: neither used, revoked nor expired ones. */
    pairings_init(&pp, 60000);
    char ca[9], cb[9], cc[9], cd[9];
    memcpy(ca, pairing_create(&pp, "a", 1000)->code, 9);
    memcpy(cb, pairing_create(&pp, "b", 2000)->code, 9);
    memcpy(cc, pairing_create(&pp, "c", 3000)->code, 9);
    memcpy(cd, pairing_create(&pp, "d", 4000)->code, 9);
    CHECK(open_count(&pp, 4000) == 4);
    CHECK(pairing_take(&pp, cb, 4500, user) == PAIRING_OPEN);
    CHECK(pairing_revoke(&pp, cc, 4500) == 0);
    CHECK(open_count(&pp, 5000) == 2 && open_listed(&pp, ca, 5000) && open_listed(&pp, cd, 5000));
    CHECK(open_count(&pp, 61000) == 1 && open_listed(&pp, cd, 61000));
    CHECK(open_count(&pp, 64000) == 0);
    for (int i = 0; i < PAIRING_MAX; i++) {
        e = pairing_open_at(&pp, i, 5000);
        if (e) CHECK(e->state == PAIRING_OPEN && e->expires_ms > 5000);
    }

    /* PAIRING_MAX + 1 creates: the oldest is dropped (and forgotten). */
    pairings_init(&pp, 600000);
    char codes[PAIRING_MAX + 1][PAIRING_CODE_LEN + 1];
    char name[32];
    for (int i = 0; i <= PAIRING_MAX; i++) {
        snprintf(name, sizeof name, "dev-%d", i);
        e = pairing_create(&pp, name, 1000 + i);
        CHECK(e != NULL);
        if (!e) return;
        memcpy(codes[i], e->code, sizeof codes[i]);
    }
    CHECK(open_count(&pp, 2000) == PAIRING_MAX);
    CHECK(!open_listed(&pp, codes[0], 2000));
    CHECK(pairing_take(&pp, codes[0], 2000, user) == PAIRING_UNKNOWN);
    CHECK(pairing_take(&pp, codes[1], 2000, user) == PAIRING_OPEN && strcmp(user, "dev-1") == 0);
    CHECK(pairing_take(&pp, codes[PAIRING_MAX], 2000, user) == PAIRING_OPEN &&
          strcmp(user, "dev-64") == 0);
    int distinct = 1;
    for (int i = 0; i <= PAIRING_MAX; i++)
        for (int k = i + 1; k <= PAIRING_MAX; k++) distinct &= strcmp(codes[i], codes[k]) != 0;
    CHECK(distinct);
}

/* ---- core/admin_sessions ---- */

static admin_sessions as;

static admin_session *find_token(const char *token, double now_ms)
{
    char header[200];
    snprintf(header, sizeof header, "kb_admin=%s", token);
    return admin_session_find(&as, header, now_ms);
}

static void test_admin_sessions(void)
{
    static const char hex[] = "0123456789abcdef";
    char header[400], token[65], other[65];
    const admin_session *s;

    admin_sessions_init(&as);
    s = admin_session_create(&as, "admin", 0);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(strlen(s->token) == 64 && all_in(s->token, hex));
    CHECK(strlen(s->csrf) == 32 && all_in(s->csrf, hex));
    CHECK(strcmp(s->user, "admin") == 0 && s->created_ms == 0 && s->last_ms == 0);
    memcpy(token, s->token, sizeof token);

    /* The cookie among others, with or without spaces. */
    static const char *const forms[][2] = {
        {"kb_admin=", ""},
        {"theme=dark; kb_admin=", "; lang=en"},
        {"theme=dark;kb_admin=", ";lang=en"},
        {"  kb_admin=", ""},
        {"a=1;  kb_admin=", ""},
        {"kb_admin=", ";"},
        {"kb_admin2=nope; xkb_admin=nope; kb_admin=", ""},
        {"kb_admin=", "; kb_admin=other"},
    };
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        snprintf(header, sizeof header, "%s%s%s", forms[i][0], token, forms[i][1]);
        admin_session *found = admin_session_find(&as, header, 1000);
        CHECK(found == s);
        if (found != s) fprintf(stderr, "  no session for Cookie: %s\n", header);
    }
    CHECK(s->last_ms == 1000);

    /* Unknown and garbage cookies. */
    char upper[65], shortened[65];
    for (int i = 0; i < 65; i++) upper[i] = (char)(token[i] >= 'a' && token[i] <= 'f' ? token[i] - 32 : token[i]);
    memcpy(shortened, token, 63);
    shortened[63] = '\0';
    char junk[5000];
    memset(junk, ';', sizeof junk - 1);
    junk[sizeof junk - 1] = '\0';
    const char *const bad[] = {"", ";", " ; ; ", "kb_admin", "kb_admin=", "kb_admin=deadbeef", "kb_admin =x",
                               "theme=dark", junk};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(admin_session_find(&as, bad[i], 1000) == NULL);
    CHECK(find_token(shortened, 1000) == NULL);
    int has_letter = strpbrk(token, "abcdef") != NULL;
    CHECK(!has_letter || find_token(upper, 1000) == NULL);
    snprintf(header, sizeof header, "kb_admin=%sa", token); /* one character more */
    CHECK(admin_session_find(&as, header, 1000) == NULL);
    snprintf(header, sizeof header, "kb_admin2=%s", token);
    CHECK(admin_session_find(&as, header, 1000) == NULL);
    snprintf(header, sizeof header, "xkb_admin=%s", token);
    CHECK(admin_session_find(&as, header, 1000) == NULL);
    snprintf(header, sizeof header, "other=kb_admin=%s", token);
    CHECK(admin_session_find(&as, header, 1000) == NULL);
    snprintf(header, sizeof header, "kb_admin=%s", s->csrf); /* the CSRF token is not a session */
    CHECK(admin_session_find(&as, header, 1000) == NULL);
    CHECK(find_token(token, 1000) == s); /* still there after all that */

    /* Idle expiry: used within ADMIN_IDLE_MS it lives on, at exactly it ends. */
    CHECK(admin_session_expires_in(s, 1000) == 900);
    CHECK(admin_session_expires_in(s, 2000) == 899);
    CHECK(find_token(token, 1000 + ADMIN_IDLE_MS - 1) == s);
    double last = 1000 + ADMIN_IDLE_MS - 1;
    CHECK(admin_session_expires_in(s, last) == 900);
    CHECK(find_token(token, last + ADMIN_IDLE_MS) == NULL);
    CHECK(as.s[0].token[0] == '\0');                 /* ended, the slot free */
    CHECK(find_token(token, last + 1) == NULL);      /* and not back */

    /* The hard limit, even when used every 10 minutes. */
    admin_sessions_init(&as);
    s = admin_session_create(&as, "admin", 0);
    memcpy(token, s->token, sizeof token);
    int alive = 1;
    for (double t = 600000; t < ADMIN_MAX_MS; t += 600000) alive &= find_token(token, t) == s;
    CHECK(alive);
    CHECK(admin_session_expires_in(s, ADMIN_MAX_MS - 600000) == 600); /* the hard limit is nearer */
    CHECK(find_token(token, ADMIN_MAX_MS - 1) == s);
    CHECK(admin_session_expires_in(s, ADMIN_MAX_MS - 1) == 0);
    CHECK(find_token(token, ADMIN_MAX_MS) == NULL);
    CHECK(admin_session_expires_in(s, ADMIN_MAX_MS + 5000) == 0);

    /* End. */
    admin_sessions_init(&as);
    s = admin_session_create(&as, "admin", 0);
    memcpy(token, s->token, sizeof token);
    const admin_session *s2 = admin_session_create(&as, "admin", 0);
    memcpy(other, s2->token, sizeof other);
    CHECK(s2 != s && strcmp(token, other) != 0 && strcmp(s->csrf, s2->csrf) != 0);
    admin_session_end(&as, find_token(token, 10));
    CHECK(find_token(token, 20) == NULL);
    CHECK(find_token(other, 20) == s2);

    /* Prune: sessions of users the registry no longer has as admins end. */
    registry *r1 = parse_registry("{\"outlet\":{\"id\":\"o\"},\"tenants\":[{\"id\":\"pizza\",\"devices\":["
                                  "{\"username\":\"pizza-pos\",\"role\":\"pos\"}]}],"
                                  "\"admins\":[{\"username\":\"admin\"},{\"username\":\"boss\"}]}");
    registry *r2 = parse_registry("{\"outlet\":{\"id\":\"o\"},\"tenants\":[{\"id\":\"pizza\",\"devices\":["
                                  "{\"username\":\"pizza-pos\",\"role\":\"pos\"},{\"username\":\"boss\",\"role\":\"pos\"}]}],"
                                  "\"admins\":[{\"username\":\"admin\"}]}");
    if (r1 && r2) {
        char t_admin[65], t_boss[65], t_pos[65], t_ghost[65];
        admin_sessions_init(&as);
        memcpy(t_admin, admin_session_create(&as, "admin", 0)->token, 65);
        memcpy(t_boss, admin_session_create(&as, "boss", 0)->token, 65);
        memcpy(t_pos, admin_session_create(&as, "pizza-pos", 0)->token, 65);
        memcpy(t_ghost, admin_session_create(&as, "ghost", 0)->token, 65);
        admin_sessions_prune(&as, r1);
        CHECK(find_token(t_admin, 10) != NULL && find_token(t_boss, 10) != NULL);
        CHECK(find_token(t_pos, 10) == NULL && find_token(t_ghost, 10) == NULL);
        admin_sessions_prune(&as, r2); /* boss is a pos now */
        CHECK(find_token(t_admin, 20) != NULL && find_token(t_boss, 20) == NULL);
    }
    registry_free(r1);
    registry_free(r2);

    /* More than ADMIN_SESSIONS_MAX logins: the least recently used goes. */
    char tokens[ADMIN_SESSIONS_MAX + 1][65];
    admin_sessions_init(&as);
    for (int i = 0; i < ADMIN_SESSIONS_MAX; i++) {
        s = admin_session_create(&as, "admin", 1000.0 * i);
        CHECK(s != NULL);
        if (!s) return;
        memcpy(tokens[i], s->token, 65);
    }
    CHECK(find_token(tokens[0], 40000) != NULL); /* 0 used now: 1 is the oldest */
    s = admin_session_create(&as, "admin", 41000);
    memcpy(tokens[ADMIN_SESSIONS_MAX], s->token, 65);
    CHECK(find_token(tokens[1], 42000) == NULL);
    int live = 0;
    for (int i = 0; i <= ADMIN_SESSIONS_MAX; i++) live += i != 1 && find_token(tokens[i], 42000) != NULL;
    CHECK(live == ADMIN_SESSIONS_MAX);
    /* Every one used at 42000 but 5, used later, and the new one made at
     * 41000 and used at 42000 too: the next login ends one of the others. */
    CHECK(find_token(tokens[5], 42500) != NULL);
    s = admin_session_create(&as, "admin", 43000);
    CHECK(s != NULL && find_token(tokens[5], 43000) != NULL);
    live = 0;
    for (int i = 0; i <= ADMIN_SESSIONS_MAX; i++) live += i != 1 && find_token(tokens[i], 43000) != NULL;
    CHECK(live == ADMIN_SESSIONS_MAX - 1);
}

/* ---- model/registry_edit and the registry version ---- */

/* The document printed and parsed whole, as the admin API does before saving. */
static registry *reparse(const cJSON *doc)
{
    char *text = cJSON_PrintUnformatted(doc);
    registry *r = NULL;
    char err[256] = "";
    int rc = text ? registry_parse(text, strlen(text), &r, err, sizeof err) : -1;
    if (rc) fprintf(stderr, "  registry_parse of the edited document: %s\n", err);
    cJSON_free(text);
    return rc ? NULL : r;
}

/* An edit refused: -1, a message, and the document exactly as it was. */
#define CHECK_REFUSED(doc, call)                                                                   \
    do {                                                                                           \
        char *before_ = cJSON_PrintUnformatted(doc);                                               \
        err[0] = '\0';                                                                             \
        CHECK((call) == -1);                                                                       \
        char *after_ = cJSON_PrintUnformatted(doc);                                                \
        CHECK(before_ && after_ && strcmp(before_, after_) == 0);                                  \
        CHECK(err[0] != '\0');                                                                     \
        cJSON_free(before_);                                                                       \
        cJSON_free(after_);                                                                        \
    } while (0)

static const char *str_at(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *tenant_in(const cJSON *doc, const char *id)
{
    cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(doc, "tenants")) {
        const char *v = str_at(t, "id");
        if (v && strcmp(v, id) == 0) return t;
    }
    return NULL;
}

static void test_registry_edit(void)
{
    char err[256];
    registry *r;
    cJSON *doc = cJSON_Parse(demo_registry);
    CHECK(doc != NULL);
    if (!doc) return;
    r = reparse(doc);
    CHECK(r && r->n_tenants == 3 && r->n_devices == 12);
    registry_free(r);

    /* Add a tenant. */
    CHECK(registry_edit_add_tenant(doc, "sushi", "Sushi Bar", err, sizeof err) == 0);
    CHECK(registry_edit_add_tenant(doc, "tea", NULL, err, sizeof err) == 0);
    CHECK(registry_edit_add_tenant(doc, "soup", "", err, sizeof err) == 0);
    r = reparse(doc);
    CHECK(r != NULL);
    if (r) {
        const registry_tenant *t = registry_find_tenant(r, "sushi");
        CHECK(r->n_tenants == 6 && t && strcmp(t->name, "Sushi Bar") == 0 && t->n_stations == 0);
        t = registry_find_tenant(r, "tea");
        CHECK(t && strcmp(t->name, "tea") == 0);
        t = registry_find_tenant(r, "soup");
        CHECK(t && strcmp(t->name, "soup") == 0);
        CHECK(registry_find_device(r, "pizza-oven") != NULL); /* the rest untouched */
    }
    registry_free(r);
    CHECK_REFUSED(doc, registry_edit_add_tenant(doc, "pizza", "Another Pizza", err, sizeof err));
    CHECK(strstr(err, "pizza") != NULL);

    /* Rename. */
    CHECK(registry_edit_rename_tenant(doc, "burger", "Burger Barn", err, sizeof err) == 0);
    r = reparse(doc);
    CHECK(r && registry_find_tenant(r, "burger") && strcmp(registry_find_tenant(r, "burger")->name, "Burger Barn") == 0);
    registry_free(r);
    CHECK_REFUSED(doc, registry_edit_rename_tenant(doc, "nope", "Nope", err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_rename_tenant(doc, "burger", "", err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_rename_tenant(doc, "burger", NULL, err, sizeof err));
    /* A tenant without a name gets one. */
    cJSON_DeleteItemFromObjectCaseSensitive(tenant_in(doc, "tea"), "name");
    CHECK(registry_edit_rename_tenant(doc, "tea", "Tea Time", err, sizeof err) == 0);
    CHECK(str_at(tenant_in(doc, "tea"), "name") && strcmp(str_at(tenant_in(doc, "tea"), "name"), "Tea Time") == 0);

    /* Add a station: to a tenant with none, and to one with some. */
    CHECK(registry_edit_add_station(doc, "burger", "grill", err, sizeof err) == 0);
    CHECK(registry_edit_add_station(doc, "pizza", "dessert", err, sizeof err) == 0);
    r = reparse(doc);
    CHECK(r != NULL);
    if (r) {
        const registry_tenant *t = registry_find_tenant(r, "burger");
        CHECK(t && t->n_stations == 1 && registry_station_index(t, "grill") == 0);
        t = registry_find_tenant(r, "pizza");
        CHECK(t && t->n_stations == 4 && registry_station_index(t, "dessert") == 3);
    }
    registry_free(r);
    CHECK_REFUSED(doc, registry_edit_add_station(doc, "pizza", "oven", err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_station(doc, "burger", "grill", err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_station(doc, "nope", "grill", err, sizeof err));

    /* Add a device of each role. */
    cJSON *list = cJSON_CreateArray();
    cJSON_AddItemToArray(list, cJSON_CreateString("pizza"));
    cJSON_AddItemToArray(list, cJSON_CreateString("burger"));
    cJSON *star = cJSON_CreateString("*");
    CHECK(registry_edit_add_device(doc, "sushi-pos", "pos", "sushi", NULL, NULL, err, sizeof err) == 0);
    CHECK(registry_edit_add_device(doc, "sushi-kitchen", "kitchen", "sushi", NULL, NULL, err, sizeof err) == 0);
    CHECK(registry_edit_add_device(doc, "sushi-kitchen2", "kitchen", "sushi", "", NULL, err, sizeof err) == 0);
    CHECK(registry_edit_add_device(doc, "burger-grill", "kitchen", "burger", "grill", NULL, err, sizeof err) == 0);
    CHECK(registry_edit_add_device(doc, "burger-expo", "expo", "burger", NULL, NULL, err, sizeof err) == 0);
    CHECK(registry_edit_add_device(doc, "hall-board", "board", NULL, NULL, NULL, err, sizeof err) == 0);
    CHECK(registry_edit_add_device(doc, "star-board", "board", NULL, NULL, star, err, sizeof err) == 0);
    CHECK(registry_edit_add_device(doc, "door-board", "board", NULL, NULL, list, err, sizeof err) == 0);
    cJSON_Delete(list); /* copied: the document keeps its own */
    cJSON_Delete(star);
    r = reparse(doc);
    CHECK(r != NULL);
    if (r) {
        const registry_device *d = registry_find_device(r, "sushi-pos");
        int sushi = (int)(registry_find_tenant(r, "sushi") - r->tenants);
        CHECK(d && d->role == DEVICE_POS && d->tenant == sushi);
        d = registry_find_device(r, "sushi-kitchen");
        CHECK(d && d->role == DEVICE_KITCHEN && d->tenant == sushi && registry_device_station(r, d) == NULL);
        d = registry_find_device(r, "sushi-kitchen2");
        CHECK(d && d->role == DEVICE_KITCHEN && registry_device_station(r, d) == NULL);
        d = registry_find_device(r, "burger-grill");
        CHECK(d && d->role == DEVICE_KITCHEN && registry_device_station(r, d) &&
              strcmp(registry_device_station(r, d), "grill") == 0);
        d = registry_find_device(r, "burger-expo");
        CHECK(d && d->role == DEVICE_EXPO && strcmp(registry_tenant_of(r, d)->id, "burger") == 0);
        d = registry_find_device(r, "hall-board");
        CHECK(d && d->role == DEVICE_BOARD && d->board_all && d->tenant == -1);
        d = registry_find_device(r, "star-board");
        CHECK(d && d->role == DEVICE_BOARD && d->board_all);
        d = registry_find_device(r, "door-board");
        CHECK(d && d->role == DEVICE_BOARD && !d->board_all && d->n_board_tenants == 2);
        if (d) CHECK(registry_board_shows(d, 0) && registry_board_shows(d, 1) && !registry_board_shows(d, 2));
        CHECK(r->n_devices == 12 + 8);
    }
    registry_free(r);

    /* Refused device additions. */
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "x-pos", "pos", "pizza", "oven", NULL, err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "x-expo", "expo", "pizza", "oven", NULL, err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "x-pos", "pos", NULL, NULL, NULL, err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "x-kitchen", "kitchen", NULL, "oven", NULL, err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "x-expo", "expo", NULL, NULL, NULL, err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "x-pos", "pos", "nope", NULL, NULL, err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "x-waiter", "waiter", "pizza", NULL, NULL, err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "x-admin", "admin", NULL, NULL, NULL, err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "x-empty", "", "pizza", NULL, NULL, err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "x-case", "POS", "pizza", NULL, NULL, err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "pizza-pos", "pos", "burger", NULL, NULL, err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "admin", "pos", "pizza", NULL, NULL, err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "court-board", "board", NULL, NULL, NULL, err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "hall-board", "pos", "pizza", NULL, NULL, err, sizeof err));

    /* Remove: a tenant's device, a board, an admin; never the last admin. */
    CHECK(registry_edit_remove_device(doc, "burger-kitchen", err, sizeof err) == 0);
    CHECK(registry_edit_remove_device(doc, "court-board", err, sizeof err) == 0);
    CHECK_REFUSED(doc, registry_edit_remove_device(doc, "burger-kitchen", err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_remove_device(doc, "nope", err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_remove_device(doc, "admin", err, sizeof err));
    CHECK(strstr(err, "admin") != NULL);
    cJSON *boss = cJSON_CreateObject();
    cJSON_AddStringToObject(boss, "username", "boss");
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(doc, "admins"), boss);
    CHECK(registry_edit_remove_device(doc, "admin", err, sizeof err) == 0);
    CHECK_REFUSED(doc, registry_edit_remove_device(doc, "boss", err, sizeof err));
    r = reparse(doc);
    CHECK(r != NULL);
    if (r) {
        CHECK(!registry_find_device(r, "burger-kitchen") && !registry_find_device(r, "court-board"));
        CHECK(!registry_find_device(r, "admin"));
        CHECK(registry_find_device(r, "boss") && registry_find_device(r, "boss")->role == DEVICE_ADMIN);
        CHECK(registry_find_device(r, "burger-pos") && registry_find_device(r, "hall-board"));
        CHECK(r->n_devices == 12 + 8 - 2);
    }
    registry_free(r);
    cJSON_Delete(doc);

    /* Unknown keys anywhere survive every kind of edit, and so does the
     * order: a rename and its undo give back the same text. */
    doc = cJSON_Parse(demo_registry);
    cJSON_AddStringToObject(doc, "x_note", "keep me");
    cJSON_AddNumberToObject(tenant_in(doc, "pizza"), "x_colour", 7);
    cJSON_AddBoolToObject(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tenant_in(doc, "pizza"), "devices"), 0),
                          "x_serial", 1);
    cJSON_AddStringToObject(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "boards"), 0), "x_place", "door");
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(doc, "outlet"), "x_city", "Lyon");
    char *original = cJSON_PrintUnformatted(doc);
    CHECK(registry_edit_rename_tenant(doc, "pizza", "Pizza Planet", err, sizeof err) == 0);
    CHECK(registry_edit_rename_tenant(doc, "pizza", "Pizza Paradise", err, sizeof err) == 0);
    char *again = cJSON_PrintUnformatted(doc);
    CHECK(original && again && strcmp(original, again) == 0);
    cJSON_free(original);
    cJSON_free(again);
    CHECK(registry_edit_add_tenant(doc, "sushi", "Sushi", err, sizeof err) == 0);
    CHECK(registry_edit_add_station(doc, "pizza", "dessert", err, sizeof err) == 0);
    CHECK(registry_edit_add_device(doc, "pizza-pos2", "pos", "pizza", NULL, NULL, err, sizeof err) == 0);
    CHECK(registry_edit_add_device(doc, "b2", "board", NULL, NULL, NULL, err, sizeof err) == 0);
    CHECK(registry_edit_remove_device(doc, "noodle-pos", err, sizeof err) == 0);
    CHECK(str_at(doc, "x_note") && strcmp(str_at(doc, "x_note"), "keep me") == 0);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(tenant_in(doc, "pizza"), "x_colour")) == 7);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tenant_in(doc, "pizza"), "devices"), 0), "x_serial")));
    CHECK(str_at(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "boards"), 0), "x_place") != NULL);
    CHECK(str_at(cJSON_GetObjectItemCaseSensitive(doc, "outlet"), "x_city") != NULL);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "demo")));
    CHECK(str_at(cJSON_GetObjectItemCaseSensitive(doc, "legacy"), "mode") != NULL);
    r = reparse(doc);
    CHECK(r && r->demo && registry_find_tenant(r, "sushi") && registry_find_device(r, "pizza-pos2"));
    registry_free(r);
    cJSON_Delete(doc);

    /* Lists that are not lists: refused, nothing changed. */
    doc = cJSON_Parse("{\"outlet\":{\"id\":\"o\"},\"tenants\":\"oops\",\"boards\":{},"
                      "\"admins\":[{\"username\":\"admin\"}]}");
    CHECK_REFUSED(doc, registry_edit_add_tenant(doc, "a", "A", err, sizeof err));
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "b", "board", NULL, NULL, NULL, err, sizeof err));
    cJSON_Delete(doc);
    doc = cJSON_Parse("{\"outlet\":{\"id\":\"o\"},\"tenants\":[{\"id\":\"a\",\"stations\":\"oven\"}]}");
    CHECK_REFUSED(doc, registry_edit_add_station(doc, "a", "grill", err, sizeof err));
    cJSON_Delete(doc);

    /* A tenant with no "devices" key (registry_parse accepts one): a refused
     * device must not leave an empty "devices" behind. */
    static const char bare[] = "{\"outlet\":{\"id\":\"o\"},\"tenants\":[{\"id\":\"tea\",\"name\":\"Tea\"}],"
                               "\"admins\":[{\"username\":\"admin\"}]}";
    r = parse_registry(bare);
    registry_free(r);
    doc = cJSON_Parse(bare);
    CHECK_REFUSED(doc, registry_edit_add_device(doc, "tea-pos", "pos", "tea", "bar", NULL, err, sizeof err));
    CHECK(cJSON_GetObjectItemCaseSensitive(tenant_in(doc, "tea"), "devices") == NULL);
    CHECK(registry_edit_add_device(doc, "tea-pos", "pos", "tea", NULL, NULL, err, sizeof err) == 0);
    r = reparse(doc);
    CHECK(r && registry_find_device(r, "tea-pos"));
    registry_free(r);
    cJSON_Delete(doc);
}

static void test_registry_version(void)
{
    char v1[17], v2[17], v3[17];
    registry *a = parse_registry(demo_registry), *b = parse_registry(demo_registry);
    registry_version_of(demo_registry, strlen(demo_registry), v1);
    CHECK(strlen(v1) == 16 && all_in(v1, "0123456789abcdef"));
    CHECK(a && b && strcmp(a->version, v1) == 0 && strcmp(b->version, v1) == 0);
    registry_version_of(demo_registry, strlen(demo_registry), v2);
    CHECK(strcmp(v1, v2) == 0);

    /* One byte different, anywhere: another version. */
    char *copy = strdup(demo_registry);
    char *at = copy ? strstr(copy, "Demo Food Court") : NULL;
    CHECK(at != NULL);
    if (at) {
        at[5] = 'G'; /* "Demo Good Court" */
        registry *c = parse_registry(copy);
        CHECK(c && strcmp(c->version, v1) != 0);
        registry_version_of(copy, strlen(copy), v3);
        CHECK(strcmp(v3, v1) != 0 && (!c || strcmp(c->version, v3) == 0));
        registry_free(c);
        at[5] = 'F';
        copy[strlen(copy) - 1] = ' '; /* the final newline: whitespace counts too */
        registry_version_of(copy, strlen(copy), v3);
        CHECK(strcmp(v3, v1) != 0);
    }
    registry_version_of(demo_registry, strlen(demo_registry) - 1, v3); /* one byte shorter */
    CHECK(strcmp(v3, v1) != 0);
    free(copy);
    registry_free(a);
    registry_free(b);
}

/* ---- core/presence ---- */

static int update(presence *p, const char *device, const char *payload, double now_ms)
{
    return presence_update(p, device, payload, strlen(payload), now_ms);
}

static const cJSON *listed(const cJSON *list, const char *username)
{
    const cJSON *o;
    cJSON_ArrayForEach(o, list) {
        const char *u = str_at(o, "username");
        if (u && strcmp(u, username) == 0) return o;
    }
    return NULL;
}

static int is_str(const cJSON *o, const char *key, const char *want)
{
    const char *v = str_at(o, key);
    return v && strcmp(v, want) == 0;
}

static int is_null(const cJSON *o, const char *key) { return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, key)); }

static void test_presence(void)
{
    const double t0 = 1764590400000.0; /* 2025-12-01T12:00:00.000Z */
    presence *p = presence_new();
    registry *r = parse_registry(demo_registry);
    CHECK(p && r);
    if (!p || !r) {
        presence_free(p);
        registry_free(r);
        return;
    }
    const presence_entry *e;

    /* Online, repeated, offline, repeated. */
    CHECK(presence_find(p, "pizza-pos") == NULL && !presence_online(p, "pizza-pos"));
    CHECK(update(p, "pizza-pos",
                 "{\"online\":true,\"page\":\"/pos\",\"version\":\"0.9.0\",\"user_agent\":\"Tab\\u0001let\\tX\\u00e9\"}",
                 t0 + 1000) == 1);
    e = presence_find(p, "pizza-pos");
    CHECK(e && e->known && e->online && presence_online(p, "pizza-pos"));
    CHECK(e && e->since_ms == t0 + 1000 && e->last_seen_ms == t0 + 1000);
    CHECK(e && strcmp(e->page, "/pos") == 0 && strcmp(e->version, "0.9.0") == 0);
    CHECK(e && strcmp(e->user_agent, "Tab?let?X??") == 0); /* control bytes and the two of é */
    CHECK(update(p, "pizza-pos", "{\"online\":true,\"page\":\"/pos\"}", t0 + 2000) == 0);
    CHECK(e->since_ms == t0 + 1000 && e->last_seen_ms == t0 + 2000 && e->online);
    CHECK(update(p, "pizza-pos", "{\"online\":false}", t0 + 3000) == 1);
    CHECK(!e->online && e->known && !presence_online(p, "pizza-pos"));
    CHECK(e->since_ms == t0 + 3000);
    CHECK(e->last_seen_ms == t0 + 3000); /* on until the offline message (presence.c) */
    CHECK(update(p, "pizza-pos", "{\"online\":false}", t0 + 4000) == 0);
    CHECK(e->since_ms == t0 + 3000 && e->last_seen_ms == t0 + 3000);

    /* Not presence documents: -1, nothing changed, nothing added. */
    presence_entry before = *e;
    static const char *const junk[] = {"not json", "{}", "{\"online\":1}", "{\"online\":\"true\"}", "[true]", "true",
                                       "{\"online\":true} x", "{\"online\":true", "null"};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        CHECK(update(p, "pizza-pos", junk[i], t0 + 5000) == -1);
        CHECK(update(p, "pizza-kitchen", junk[i], t0 + 5000) == -1);
    }
    CHECK(presence_update(p, "pizza-pos", "{\"online\":true}", 10, t0 + 5000) == -1); /* cut short */
    CHECK(memcmp(&before, presence_find(p, "pizza-pos"), sizeof before) == 0);
    CHECK(presence_find(p, "pizza-kitchen") == NULL);
    CHECK(update(p, "a-name-longer-than-thirty-two-chars", "{\"online\":true}", t0) == -1);
    CHECK(presence_find(p, "a-name-longer-than-thirty-two-chars") == NULL);

    /* Fields: copied only as printable ASCII, cut to their size; a field
     * that is not a string is empty. */
    char big[400];
    snprintf(big, sizeof big, "{\"online\":true,\"page\":\"%0300d\",\"version\":7}", 0);
    CHECK(update(p, "pizza-pos", big, t0 + 6000) == 1);
    e = presence_find(p, "pizza-pos");
    CHECK(e && e->since_ms == t0 + 6000 && strlen(e->page) == sizeof e->page - 1 && e->version[0] == '\0');
    CHECK(e && e->user_agent[0] == '\0');

    /* An empty payload (the retained message cleared): not known, off. */
    CHECK(presence_update(p, "pizza-pos", "", 0, t0 + 7000) == 1);
    e = presence_find(p, "pizza-pos");
    CHECK(e && !e->known && !e->online && !presence_online(p, "pizza-pos"));
    CHECK(e && e->last_seen_ms == t0 + 7000);
    CHECK(presence_update(p, "pizza-pos", NULL, 0, t0 + 7500) == 0); /* cleared again: no change */

    /* Counts per tenant and role. */
    CHECK(update(p, "pizza-pos", "{\"online\":true}", t0 + 8000) == 1);
    CHECK(update(p, "pizza-kitchen", "{\"online\":true}", t0 + 8000) == 1);
    CHECK(update(p, "pizza-oven", "{\"online\":true,\"page\":\"/kitchen\"}", t0 + 8000) == 1);
    CHECK(update(p, "pizza-expo", "{\"online\":false}", t0 + 8000) == 1);
    CHECK(update(p, "burger-pos", "{\"online\":true}", t0 + 8000) == 1);
    CHECK(update(p, "court-board", "{\"online\":true}", t0 + 8000) == 1);
    CHECK(update(p, "admin", "{\"online\":true}", t0 + 8000) == 1);
    CHECK(update(p, "ghost", "{\"online\":true}", t0 + 8000) == 1); /* not in the registry */
    presence_note_address(p, "pizza-oven", "192.168.1.23", 1, t0 + 7000);
    presence_note_address(p, "burger-pos", "192.168.1.24", 0, t0 + 7000);
    int pizza = (int)(registry_find_tenant(r, "pizza") - r->tenants);
    int burger = (int)(registry_find_tenant(r, "burger") - r->tenants);
    int noodle = (int)(registry_find_tenant(r, "noodle") - r->tenants);
    CHECK(presence_count(p, r, pizza, -1) == 3);
    CHECK(presence_count(p, r, pizza, DEVICE_POS) == 1);
    CHECK(presence_count(p, r, pizza, DEVICE_KITCHEN) == 2);
    CHECK(presence_count(p, r, pizza, DEVICE_EXPO) == 0);
    CHECK(presence_count(p, r, burger, -1) == 1 && presence_count(p, r, burger, DEVICE_KITCHEN) == 0);
    CHECK(presence_count(p, r, noodle, -1) == 0);
    CHECK(presence_count(p, r, -1, DEVICE_BOARD) == 1);
    CHECK(presence_count(p, r, -1, -1) == 2); /* the board and the admin */

    /* The /api/devices list: every registry device, nothing else. */
    cJSON *list = presence_devices_json(p, r);
    CHECK(cJSON_IsArray(list) && cJSON_GetArraySize(list) == (int)r->n_devices);
    int all_known = 1;
    for (size_t i = 0; i < r->n_devices; i++) all_known &= listed(list, r->devices[i].username) != NULL;
    CHECK(all_known);
    CHECK(listed(list, "ghost") == NULL);
    const cJSON *o = listed(list, "noodle-pos"); /* never seen */
    CHECK(o && is_str(o, "role", "pos") && is_str(o, "tenant", "noodle") && is_null(o, "station"));
    CHECK(o && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "online")) && is_null(o, "since"));
    CHECK(o && is_null(o, "last_seen") && is_null(o, "page") && is_null(o, "address") && is_null(o, "paired"));
    o = listed(list, "pizza-oven");
    CHECK(o && is_str(o, "role", "kitchen") && is_str(o, "tenant", "pizza") && is_str(o, "station", "oven"));
    CHECK(o && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "online")));
    CHECK(o && is_str(o, "since", "2025-12-01T12:00:08.000Z") && is_str(o, "last_seen", "2025-12-01T12:00:08.000Z"));
    CHECK(o && is_str(o, "page", "/kitchen") && is_str(o, "address", "192.168.1.23"));
    CHECK(o && is_str(o, "paired", "2025-12-01T12:00:07.000Z"));
    o = listed(list, "burger-pos");
    CHECK(o && is_str(o, "address", "192.168.1.24") && is_null(o, "paired"));
    o = listed(list, "pizza-expo");
    CHECK(o && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "online")) &&
          is_str(o, "since", "2025-12-01T12:00:08.000Z") && is_null(o, "last_seen"));
    o = listed(list, "court-board");
    CHECK(o && is_str(o, "role", "board") && is_null(o, "tenant") && is_null(o, "station"));
    o = listed(list, "admin");
    CHECK(o && is_str(o, "role", "admin") && is_null(o, "tenant"));
    cJSON_Delete(list);

    /* Metrics: a line per tenant and pos/kitchen/expo, and one for boards. */
    text_buf out = {0};
    presence_metrics(p, r, &out);
    char *buf = text_buf_take(&out);
    CHECK(buf != NULL);
    if (buf) {
        static const device_role roles[] = {DEVICE_POS, DEVICE_KITCHEN, DEVICE_EXPO};
        char line[160];
        int lines_ok = 1;
        for (size_t t = 0; t < r->n_tenants; t++)
            for (size_t k = 0; k < 3; k++) {
                snprintf(line, sizeof line, "\nkb_devices_online{tenant=\"%s\",role=\"%s\"} %d\n", r->tenants[t].id,
                         device_role_name(roles[k]), presence_count(p, r, (int)t, (int)roles[k]));
                lines_ok &= strstr(buf, line) != NULL;
            }
        CHECK(lines_ok);
        CHECK(strstr(buf, "\nkb_devices_online{tenant=\"pizza\",role=\"kitchen\"} 2\n") != NULL);
        CHECK(strstr(buf, "\nkb_devices_online{tenant=\"noodle\",role=\"pos\"} 0\n") != NULL);
        CHECK(strstr(buf, "\nkb_devices_online{tenant=\"\",role=\"board\"} 1\n") != NULL);
        int n = 0;
        for (const char *s = buf; (s = strstr(s, "\nkb_devices_online{")); s++) n++;
        CHECK(n == (int)r->n_tenants * 3 + 1);
        CHECK(strstr(buf, "# TYPE kb_devices_online gauge\n") != NULL);
        CHECK(strstr(buf, "ghost") == NULL);
        /* Nothing but the gauge and its HELP/TYPE (presence.h). */
        CHECK(strstr(buf, "\nkb_devices{") == NULL);
    }
    free(buf);

    /* Appends to what the buffer holds. */
    text_buf_printf(&out, "# before\n");
    presence_metrics(p, r, &out);
    buf = text_buf_take(&out);
    CHECK(buf && strncmp(buf, "# before\n# HELP", 15) == 0);
    free(buf);

    presence_free(p);
    registry_free(r);
}

/* ---- core/registry_store ---- */

static char *slurp(const char *path)
{
    size_t len;
    char err[512];
    return registry_store_read(path, &len, err, sizeof err);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int entries_in(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    const struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static void test_registry_store(void)
{
    char path[300], bak[320], tmp[320], err[512], *text;
    snprintf(path, sizeof path, "%s/registry.json", dir);
    snprintf(bak, sizeof bak, "%s.bak", path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    /* No file yet: saved, no .bak needed, no .tmp left. */
    CHECK(registry_store_save(path, "one\n", err, sizeof err) == 0);
    CHECK((text = slurp(path)) && strcmp(text, "one\n") == 0);
    free(text);
    CHECK(!exists(bak) && !exists(tmp));
    CHECK(entries_in(dir) == 1);

    /* Over an existing file: the new text, the old in .bak, the mode kept. */
    CHECK(chmod(path, 0640) == 0);
    CHECK(registry_store_save(path, "two\n", err, sizeof err) == 0);
    CHECK((text = slurp(path)) && strcmp(text, "two\n") == 0);
    free(text);
    CHECK((text = slurp(bak)) && strcmp(text, "one\n") == 0);
    free(text);
    CHECK(!exists(tmp) && mode_of(path) == 0640);
    CHECK(entries_in(dir) == 2);

    /* Another mode, kept too; .bak replaced by the previous text. */
    CHECK(chmod(path, 0604) == 0);
    CHECK(registry_store_save(path, demo_registry, err, sizeof err) == 0);
    CHECK(mode_of(path) == 0604);
    CHECK((text = slurp(bak)) && strcmp(text, "two\n") == 0);
    free(text);
    size_t len = 0;
    text = registry_store_read(path, &len, err, sizeof err);
    CHECK(text && len == strlen(demo_registry) && strcmp(text, demo_registry) == 0);
    free(text);
    CHECK(!exists(tmp) && entries_in(dir) == 2);

    /* A stale .tmp from a crash is replaced and gone. */
    FILE *f = fopen(tmp, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("torn", f);
        fclose(f);
    }
    CHECK(registry_store_save(path, "three\n", err, sizeof err) == 0);
    CHECK(!exists(tmp) && (text = slurp(path)) && strcmp(text, "three\n") == 0);
    free(text);
    CHECK((text = slurp(bak)) && strcmp(text, demo_registry) == 0);
    free(text);

    /* An empty text is a file too (registry_parse refuses it later). */
    CHECK(registry_store_save(path, "", err, sizeof err) == 0);
    len = 99;
    text = registry_store_read(path, &len, err, sizeof err);
    CHECK(text && len == 0 && text[0] == '\0');
    free(text);

    /* Into a folder that does not exist: refused, naming it; nothing left. */
    char missing[320];
    snprintf(missing, sizeof missing, "%s/missing/registry.json", dir);
    int before = entries_in(dir);
    err[0] = '\0';
    CHECK(registry_store_save(missing, "x\n", err, sizeof err) == -1);
    CHECK(strstr(err, missing) != NULL);
    if (!strstr(err, missing)) fprintf(stderr, "  error: %s\n", err);
    char sub[320];
    snprintf(sub, sizeof sub, "%s/missing", dir);
    CHECK(!exists(sub) && entries_in(dir) == before);

    /* Reading a file that is not there. */
    char absent[320];
    snprintf(absent, sizeof absent, "%s/absent.json", dir);
    err[0] = '\0';
    CHECK(registry_store_read(absent, &len, err, sizeof err) == NULL && strstr(err, absent) != NULL);

    unlink(path);
    unlink(bak);
    unlink(tmp);
    CHECK(entries_in(dir) == 0);
}

/* A retained document read at the bridge's connect moves `since` back, within bounds. */
static void test_presence_backdate(void)
{
    presence *p = presence_new();
    const double now = 1.8e12;
    CHECK(presence_update(p, "k", "{\"online\":true}", 15, now) == 1);
    presence_backdate(p, "k", now + 5000, now); /* a clock ahead: never later than the arrival */
    CHECK(presence_find(p, "k")->since_ms == now);
    presence_backdate(p, "k", now - PRESENCE_BACKDATE_MAX_MS - 1, now); /* a clock far behind: ignored */
    CHECK(presence_find(p, "k")->since_ms == now);
    presence_backdate(p, "k", now - 3600e3, now);
    CHECK(presence_find(p, "k")->since_ms == now - 3600e3);
    presence_backdate(p, "k", -1, now); /* unparsable */
    CHECK(presence_find(p, "k")->since_ms == now - 3600e3);
    CHECK(presence_update(p, "k", "{\"online\":false}", 16, now + 10) == 1);
    presence_backdate(p, "k", now - 7200e3, now + 10); /* offline: nothing to move */
    CHECK(presence_find(p, "k")->since_ms == now + 10);
    presence_backdate(p, "nobody", now - 1000, now);
    CHECK(presence_find(p, "nobody") == NULL);
    presence_free(p);
}

/* The broker's "New client connected" log lines: where a device connected from. */
static void test_broker_log(void)
{
    char addr[64], user[33];
    const char *tcp = "2026-12-01T21:10:00: New client connected from 192.168.1.23:51234 as kb-pizza-pos-x (p5, c0, k60, u'pizza-pos').";
    CHECK(broker_log_connected(tcp, strlen(tcp), addr, sizeof addr, user, sizeof user) == 1);
    CHECK(strcmp(addr, "192.168.1.23") == 0 && strcmp(user, "pizza-pos") == 0);
    const char *ws = "1796159233: New client connected from ::ffff:10.0.0.7:32928 as ws-1 (p2, c1, k60, u'court-board').";
    CHECK(broker_log_connected(ws, strlen(ws), addr, sizeof addr, user, sizeof user) == 1);
    CHECK(strcmp(addr, "10.0.0.7") == 0 && strcmp(user, "court-board") == 0);
    /* Not a connect, no username, cut short, or longer than a log line. */
    static const char *const others[] = {
        "1: New connection from 127.0.0.1:44158 on port 1883.",
        "1: Client kb-test-1 disconnected.",
        "1: New client connected from 127.0.0.1:44158 as anon (p2, c1, k60).",
        "1: New client connected from 127.0.0.1:44158 as x (p2, c1, k60, u'unterminated",
        "1: New client connected from  as x (p2, c1, k60, u'a').",
        ""};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++)
        CHECK(broker_log_connected(others[i], strlen(others[i]), addr, sizeof addr, user, sizeof user) == 0);
    char longline[2048];
    memset(longline, 'a', sizeof longline);
    CHECK(broker_log_connected(longline, sizeof longline, addr, sizeof addr, user, sizeof user) == 0);
    /* Truncated to the buffers, never past them. */
    char small[5];
    CHECK(broker_log_connected(tcp, strlen(tcp), small, sizeof small, user, sizeof user) == 1 && strcmp(small, "192.") == 0);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_secret();
    test_ratelimit();
    test_pairing();
    test_admin_sessions();
    test_registry_edit();
    test_registry_version();
    test_presence();
    test_registry_store();
    test_broker_log();
    test_presence_backdate();
    rmdir(dir);
    return check_report();
}
