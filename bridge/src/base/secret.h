/* secret.h - random secrets from the kernel (getrandom): session tokens,
 * device passwords, pairing codes. Nothing here is ever logged. */
#ifndef KB_SECRET_H
#define KB_SECRET_H

#include <stddef.h>

/* Fills buf with len random bytes: 0, or -1 if the kernel gave none. */
int secret_bytes(void *buf, size_t len);
/* n random bytes as 2n lowercase hex characters and a NUL (buf: 2n + 1). */
int secret_hex(char *buf, size_t n);
/* n random bytes as base64url without padding, NUL-terminated (buf:
 * 4 * ceil(n / 3) + 1). A device password is secret_base64url(18). */
int secret_base64url(char *buf, size_t n);
/* len characters drawn uniformly from alphabet, NUL-terminated (buf: len + 1). */
int secret_code(char *buf, size_t len, const char *alphabet);
/* 1 if a and b (NUL-terminated) are equal, in time that depends only on
 * their lengths. */
int secret_equal(const char *a, const char *b);
/* Overwrites len bytes of buf with zeros in a way the compiler keeps. */
void secret_wipe(void *buf, size_t len);

#endif
