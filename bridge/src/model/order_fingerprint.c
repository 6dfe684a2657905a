/* order_fingerprint.c - see order_fingerprint.h. The digest is OpenSSL's
 * SHA-256 (libcrypto, which libwebsockets already brings). */
#include "order_fingerprint.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

const char *const order_bridge_fields[] = {"status", "seq", "created_seq", "received_at", "updated_at", "stations", NULL};

static int is_bridge_field(const char *key)
{
    for (int i = 0; order_bridge_fields[i]; i++)
        if (strcmp(key, order_bridge_fields[i]) == 0) return 1;
    return 0;
}

static int feed(EVP_MD_CTX *md, const char *s) { return EVP_DigestUpdate(md, s, strlen(s)) == 1 ? 0 : -1; }

/* A leaf (string, number, bool, null) as cJSON prints it. */
static int feed_leaf(EVP_MD_CTX *md, const cJSON *v)
{
    char *text = cJSON_PrintUnformatted(v);
    if (!text) return -1;
    int rc = feed(md, text);
    cJSON_free(text);
    return rc;
}

/* Keys sorted by their bytes; equal keys keep their order (a stable sort on
 * a small array: orders have tens of keys, not thousands). */
static void sort_members(const cJSON **m, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        const cJSON *x = m[i];
        size_t k = i;
        while (k > 0 && strcmp(m[k - 1]->string, x->string) > 0) {
            m[k] = m[k - 1];
            k--;
        }
        m[k] = x;
    }
}

static int feed_value(EVP_MD_CTX *md, const cJSON *v, int top);

static int feed_object(EVP_MD_CTX *md, const cJSON *obj, int top)
{
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next) n++;
    const cJSON **m = n ? malloc(n * sizeof *m) : NULL;
    if (n && !m) return -1;
    size_t kept = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        if (!top || !is_bridge_field(c->string)) m[kept++] = c;
    sort_members(m, kept);
    int rc = feed(md, "{");
    for (size_t i = 0; i < kept && rc == 0; i++) {
        cJSON key = {.type = cJSON_String, .valuestring = m[i]->string};
        rc = (i ? feed(md, ",") : 0) || feed_leaf(md, &key) || feed(md, ":") || feed_value(md, m[i], 0);
    }
    free(m);
    return rc || feed(md, "}") ? -1 : 0;
}

static int feed_value(EVP_MD_CTX *md, const cJSON *v, int top)
{
    if (cJSON_IsObject(v)) return feed_object(md, v, top);
    if (!cJSON_IsArray(v)) return feed_leaf(md, v);
    if (feed(md, "[")) return -1;
    for (const cJSON *c = v->child; c; c = c->next)
        if ((c != v->child && feed(md, ",")) || feed_value(md, c, 0)) return -1;
    return feed(md, "]");
}

int order_fingerprint(const cJSON *order, char out[ORDER_FINGERPRINT_HEX + 1])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char digest[32];
    unsigned int len = 0;
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && feed_value(md, order, 1) == 0 &&
                     EVP_DigestFinal_ex(md, digest, &len) == 1 && len == sizeof digest
                 ? 0
                 : -1;
    EVP_MD_CTX_free(md);
    if (rc) return -1;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < sizeof digest; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[ORDER_FINGERPRINT_HEX] = '\0';
    return 0;
}
