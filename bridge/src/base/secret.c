/* secret.c - see secret.h. */
#include "secret.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

int secret_bytes(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int secret_hex(char *buf, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char raw[64];
    if (n > sizeof raw || secret_bytes(raw, n)) return -1;
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = digits[raw[i] >> 4];
        buf[2 * i + 1] = digits[raw[i] & 15];
    }
    buf[2 * n] = '\0';
    return 0;
}

int secret_base64url(char *buf, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[64];
    if (n > sizeof raw || secret_bytes(raw, n)) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (i + 1 < n ? (unsigned)raw[i + 1] << 8 : 0) | (i + 2 < n ? raw[i + 2] : 0);
        size_t chars = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
        for (size_t k = 0; k < chars; k++) buf[o++] = alphabet[(v >> (18 - 6 * k)) & 63];
    }
    buf[o] = '\0';
    return 0;
}

int secret_code(char *buf, size_t len, const char *alphabet)
{
    size_t n = strlen(alphabet);
    if (n == 0 || n > 256) return -1;
    unsigned limit = 256 - 256 % (unsigned)n; /* rejection sampling: no bias */
    for (size_t i = 0; i < len;) {
        unsigned char b;
        if (secret_bytes(&b, 1)) return -1;
        if (b < limit) buf[i++] = alphabet[b % n];
    }
    buf[len] = '\0';
    return 0;
}

int secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++) diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

void secret_wipe(void *buf, size_t len)
{
    volatile unsigned char *p = buf;
    while (len--) *p++ = 0;
}
