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

#include <stdint.h>

#include "bridge.h"

/* Starts a check for legacy connection `conn`; the verdict arrives later
 * through legacy_gateway_auth_done(). 0 started, -1 not (too many checks
 * at once, or no socket). */
int legacy_auth_start(bridge *b, uint32_t conn, const char *username, const char *password);
/* Forgets every pending check (their sockets close with the context). */
void legacy_auth_shutdown(void);

extern const struct lws_protocols legacy_auth_protocol;

#endif
