#!/bin/bash
# Healthy when Mosquitto listens on 1883 (MQTT/TCP) and 3001 (WebSockets).
# Read from /proc rather than by connecting, so the broker log stays free of
# a connection every 10 s. 075B = 1883, 0BB9 = 3001; state 0A = LISTEN.
for port in 075B 0BB9; do
    awk -v p=":$port" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
                       END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null || exit 1
done
