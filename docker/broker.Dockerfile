# Mosquitto image: the Kitchen Bus broker, i.e. Debian's mosquitto 2.0.11
# rebuilt from Debian's source packages against an externally polled
# libwebsockets (broker/build.sh), beside Debian's own mosquitto package for
# its dynamic-security plugin, mosquitto_ctrl and user: the same broker the
# test suite runs against. Build context: the repository root. The config is
# rendered and the dynsec store created on first start by `kitchen-bus
# broker-init` (docker/broker-entrypoint.sh), into the data volume; nothing
# secret is in the image. ca-certificates is for a TLS uplink to head office
# (broker-config/uplink.conf.example).

# ---- build: Debian's sources and compilers, thrown away afterwards --------
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ libc6-dev make cmake dpkg-dev patch xz-utils \
        libssl-dev libcap-dev libwebsockets-dev mosquitto \
 && rm -rf /var/lib/apt/lists/*
COPY broker /src/broker
RUN /src/broker/build.sh /out && strip /out/mosquitto

# ---- run -------------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends mosquitto mosquitto-clients ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=build /out/mosquitto /usr/lib/kitchen-bus/mosquitto
COPY kitchen-bus /opt/kitchen-bus/kitchen-bus
COPY broker-config/mosquitto.conf.in /opt/kitchen-bus/broker-config/mosquitto.conf.in
COPY docker/broker-entrypoint.sh /usr/local/bin/kb-broker-entrypoint
COPY docker/broker-healthcheck.sh /usr/local/bin/kb-healthcheck
VOLUME /mosquitto/data
EXPOSE 1883 3001
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/kb-healthcheck"]
ENTRYPOINT ["/usr/local/bin/kb-broker-entrypoint"]
