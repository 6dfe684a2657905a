/* broker_log.h - reading Mosquitto's log lines, which the broker publishes
 * on $SYS/broker/log/N (`log_dest topic`, broker-config/mosquitto.conf.in):
 * the only place Mosquitto 2.0 says where a client connected from.
 *
 *   <time>: New client connected from 192.168.1.23:51234 as kb-pizza-pos-x (p5, c0, k60, u'pizza-pos').
 *
 * Over WebSockets the address is IPv4-mapped (::ffff:192.168.1.23); the
 * "::ffff:" and the port are dropped. Pure; unit-tested. */
#ifndef KB_BROKER_LOG_H
#define KB_BROKER_LOG_H

#include <stddef.h>

/* If `line` (len bytes, no NUL needed) is a "New client connected" line
 * with a username: 1, and the address and username copied (NUL-terminated,
 * truncated to their buffers). 0 for any other line. */
int broker_log_connected(const char *line, size_t len, char *address, size_t address_len, char *username,
                         size_t username_len);

#endif
