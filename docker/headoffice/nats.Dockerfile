# A head-office NATS node: Debian 12's nats-server (2.9.10), JetStream and
# MQTT on (nats.conf). Build context: the repository root.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nats-server \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && install -d -o nats -g nats /var/lib/nats /etc/nats
COPY docker/headoffice/nats.conf /etc/nats/nats.conf
USER nats
VOLUME /var/lib/nats
EXPOSE 1883 4222 6222
ENTRYPOINT ["/usr/sbin/nats-server", "-c", "/etc/nats/nats.conf"]
