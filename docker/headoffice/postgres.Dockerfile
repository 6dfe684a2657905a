# Head office's PostgreSQL: Debian 12's postgresql-15, a cluster made on the
# first start (postgres-entrypoint.sh). Build context: the repository root.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && install -d -o postgres -g postgres /var/lib/kb-postgres /run/postgresql
COPY docker/headoffice/postgres-entrypoint.sh /usr/local/bin/kb-postgres
USER postgres
VOLUME /var/lib/kb-postgres
EXPOSE 5432
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["/usr/lib/postgresql/15/bin/pg_isready", "-h", "127.0.0.1"]
ENTRYPOINT ["/usr/local/bin/kb-postgres"]
