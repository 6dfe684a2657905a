/* legacy_auth.h - checks a legacy client's username and password with the
 * broker, without blocking the event loop.
 *
 * The bridge never sees device passwords: they live hashed in the broker's
 * dynamic-security store. So the broker is asked the only way it answers:
 * a throwaway MQTT 3.1.1 CONNECT with those credentials (clean session, a
 * client id of its own so the device's real sessions are untouched). The
 * socket is non-blocking and adopted into the libwebsockets loop; CONNACK
 * 0 means yes, anything else no. A check that has no answer within a few
 * seconds counts as "cannot ask". docs/LEGACY.md says why this way. */
#ifndef KB_LEGACY_AUTH_H
#define KB_LEGACY_AUTH_H

#include <libwebsockets.h>
#include <stdint.h>

typedef struct legacy_auth legacy_auth;
/* A check's verdict for connection `conn`: 1 accepted, 0 refused, -1 the
 * broker could not be asked. Called from the loop, once per started check,
 * never from within legacy_auth_start. */
typedef void (*legacy_auth_done_fn)(void *ctx, uint32_t conn, int verdict);

/* Borrows host and vhost. NULL if out of memory. */
legacy_auth *legacy_auth_new(const char *host, int port, struct lws_vhost *vhost, legacy_auth_done_fn done, void *ctx);
/* Starts a check for legacy connection `conn`: 0 started, -1 not (too many
 * checks at once, or no socket). */
int legacy_auth_start(legacy_auth *la, uint32_t conn, const char *username, const char *password);
/* Forgets every pending check (their sockets close with the context; no
 * verdict is reported). */
void legacy_auth_free(legacy_auth *la);

extern const struct lws_protocols legacy_auth_protocol;

#endif
