#!/bin/bash
# First start: a cluster with the role kb (password from the secret file
# KB_PG_PASSWORD_FILE) and its database kb; clients on the compose network
# log in with that password (scram-sha-256), nobody without it; inside the
# container, the local socket trusts (it is the container's own). Then
# PostgreSQL in the foreground.
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
data=/var/lib/kb-postgres/data
if [[ ! -s $data/PG_VERSION ]]; then
    [[ -s ${KB_PG_PASSWORD_FILE:-} ]] || { echo "kb-postgres: KB_PG_PASSWORD_FILE is empty or missing: put the database password in it" >&2; exit 2; }
    "$bin/initdb" -D "$data" -U kb --pwfile="$KB_PG_PASSWORD_FILE" --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >/dev/null
    echo "host all kb 0.0.0.0/0 scram-sha-256" >>"$data/pg_hba.conf"
    "$bin/pg_ctl" -D "$data" -w -o "-c listen_addresses=''" start >/dev/null
    "$bin/createdb" -h /run/postgresql -U kb kb
    "$bin/pg_ctl" -D "$data" -w stop >/dev/null
fi
exec "$bin/postgres" -D "$data" -c listen_addresses='*'
