# Mosquitto image: Debian's mosquitto 2.0.11 and its dynamic-security plugin,
# the same packages the test suite runs against. Build context: the
# repository root. The config is rendered and the dynsec store created on
# first start by `kitchen-bus broker-init` (docker/broker-entrypoint.sh),
# into the data volume; nothing secret is in the image. ca-certificates is
# for a TLS uplink to head office (broker-config/uplink.conf.example).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends mosquitto mosquitto-clients ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY kitchen-bus /opt/kitchen-bus/kitchen-bus
COPY broker-config/mosquitto.conf.in /opt/kitchen-bus/broker-config/mosquitto.conf.in
COPY docker/broker-entrypoint.sh /usr/local/bin/kb-broker-entrypoint
COPY docker/broker-healthcheck.sh /usr/local/bin/kb-healthcheck
VOLUME /mosquitto/data
EXPOSE 1883 3001
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/kb-healthcheck"]
ENTRYPOINT ["/usr/local/bin/kb-broker-entrypoint"]
