#!/bin/bash
# Broker container start: render the config and, on first start only, the
# dynamic-security store with the bridge's account (`kitchen-bus broker-init`,
# the same step `./kitchen-bus run` and the tests use), hand the bridge its
# password through the shared secrets volume, add the uplink if configured,
# then become mosquitto.
set -euo pipefail
data=/mosquitto/data
secrets=/run/kitchen-bus
bridge_uid="${KB_BRIDGE_UID:-10001}"   # the kb user of docker/Dockerfile

# Inside the container both listeners bind all interfaces: the bridge
# container reaches 1883 over the compose network. Which host addresses the
# ports are published on is compose.yaml's business (1883: 127.0.0.1 only).
KB_MQTT_PORT=1883 KB_MQTT_BIND=0.0.0.0 KB_WS_PORT=3001 KB_WS_BIND=0.0.0.0 \
    /opt/kitchen-bus/kitchen-bus broker-init "$data" >/dev/null

if [[ -d $secrets ]]; then
    # Written anew on every start (atomically), so a replaced volume heals.
    install -m 0400 -o "$bridge_uid" -g "$bridge_uid" "$data/bridge.pw" "$secrets/.bridge.pw.tmp"
    mv -f "$secrets/.bridge.pw.tmp" "$secrets/bridge.pw"
fi
# The uplink to head office (broker-config/uplink.conf.example), if the
# outlet has one: appended to the config broker-init has just rendered.
# KB_HEADOFFICE (compose.yaml), if set, is head office's nodes
# ("ho1.example.com:8883 ho2.example.com:8883 ..."): it replaces the file's
# address line.
if [[ -f /etc/kitchen-bus/uplink.conf ]]; then
    printf '\n# --- /etc/kitchen-bus/uplink.conf ---\n' >>"$data/mosquitto.conf"
    if [[ -n ${KB_HEADOFFICE:-} ]]; then
        [[ $KB_HEADOFFICE =~ ^[A-Za-z0-9.:_,\ -]+$ ]] || { echo "KB_HEADOFFICE must be host:port addresses, space- or comma-separated" >&2; exit 2; }
        sed "s|^address .*|address ${KB_HEADOFFICE//,/ }|" /etc/kitchen-bus/uplink.conf >>"$data/mosquitto.conf"
    else
        cat /etc/kitchen-bus/uplink.conf >>"$data/mosquitto.conf"
    fi
fi
# In its folder: the config names the broker's files relative to it.
cd "$data"
exec /usr/lib/kitchen-bus/mosquitto -c mosquitto.conf
