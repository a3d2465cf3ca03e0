#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 with trust authentication for the
# user postgres and has a `test` database: the storage tests need one (they fail, not skip,
# without it). Safe to run again: it only does what is missing, and says what it did.
#
#   1. a server already answers          -> create the `test` database if it is missing
#   2. no PostgreSQL installed           -> apt-get install -y postgresql (Debian packages)
#   3. no cluster / cluster not running  -> create it (trust auth), configure the address
#                                           and port, start it, create `test`
#
# It never stops or restarts a server. Overrides: KOHTAANTO_PG_HOST, KOHTAANTO_PG_PORT,
# KOHTAANTO_PG_DATABASE, KOHTAANTO_PG_CLUSTER (Debian cluster name, default main). When
# KOHTAANTO_TEST_POSTGRES_URL is set the tests use that server and this script does nothing.
set -euo pipefail

HOST=${KOHTAANTO_PG_HOST:-127.0.0.1}
PORT=${KOHTAANTO_PG_PORT:-5432}
DATABASE=${KOHTAANTO_PG_DATABASE:-test}
CLUSTER=${KOHTAANTO_PG_CLUSTER:-main}
MARKER="# kohtaanto: trust on localhost (scripts/ensure-postgres.sh)"

say() { echo "ensure-postgres: $*"; }

if [ -n "${KOHTAANTO_TEST_POSTGRES_URL:-}" ]; then
    say "KOHTAANTO_TEST_POSTGRES_URL is set; the tests use that server, nothing to do"
    exit 0
fi

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        say "root is needed for: $*"
        exit 1
    fi
}

psql_postgres() {
    psql -h "$HOST" -p "$PORT" -U postgres -d postgres -X -At "$@"
}

answers() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$HOST" -p "$PORT"
    elif command -v psql >/dev/null 2>&1; then
        psql_postgres -c "SELECT 1" >/dev/null 2>&1
    else
        return 1
    fi
}

ensure_database() {
    if ! psql_postgres -c "SELECT 1" >/dev/null 2>&1; then
        say "PostgreSQL answers on $HOST:$PORT but not to user postgres without a password;"
        say "allow trust authentication for 127.0.0.1 or set KOHTAANTO_TEST_POSTGRES_URL"
        exit 1
    fi
    if [ "$(psql_postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" = 1 ]; then
        say "database $DATABASE exists"
    else
        psql_postgres -q -c "CREATE DATABASE \"$DATABASE\""
        say "created database $DATABASE"
    fi
}

if answers; then
    say "PostgreSQL answers on $HOST:$PORT"
    ensure_database
    exit 0
fi

if ! command -v pg_createcluster >/dev/null 2>&1; then
    say "PostgreSQL is not installed; installing it from Debian packages"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    say "installed $(ls /usr/lib/postgresql | sort -V | tail -1 | sed 's/^/PostgreSQL /')"
fi

VERSION=$(ls /usr/lib/postgresql | sort -V | tail -1)
CONF_DIR=/etc/postgresql/$VERSION/$CLUSTER
if [ ! -d "$CONF_DIR" ]; then
    say "creating cluster $VERSION/$CLUSTER"
    as_root pg_createcluster "$VERSION" "$CLUSTER" --port "$PORT" -- --auth=trust >/dev/null
fi

STATUS=$(pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c { print $4 }')
if [ "$STATUS" = online ]; then
    say "cluster $VERSION/$CLUSTER is running but does not answer on $HOST:$PORT;"
    say "this script does not restart servers: set its port to $PORT and restart it yourself"
    exit 1
fi

as_root mkdir -p "$CONF_DIR/conf.d"
as_root tee "$CONF_DIR/conf.d/kohtaanto.conf" >/dev/null <<CONF
# Written by kohtaanto scripts/ensure-postgres.sh
listen_addresses = '$HOST'
port = $PORT
CONF
if ! grep -qF "$MARKER" "$CONF_DIR/pg_hba.conf"; then
    # First match wins in pg_hba.conf, so the trust lines go on top.
    as_root sh -c "{ printf '%s\n' '$MARKER' \
        'local all all trust' \
        'host all all 127.0.0.1/32 trust' \
        'host all all ::1/128 trust'; cat '$CONF_DIR/pg_hba.conf'; } > '$CONF_DIR/pg_hba.conf.new' \
        && chown --reference='$CONF_DIR/pg_hba.conf' '$CONF_DIR/pg_hba.conf.new' \
        && chmod --reference='$CONF_DIR/pg_hba.conf' '$CONF_DIR/pg_hba.conf.new' \
        && mv '$CONF_DIR/pg_hba.conf.new' '$CONF_DIR/pg_hba.conf'"
    say "allowed trust authentication from localhost in $CONF_DIR/pg_hba.conf"
fi

say "starting cluster $VERSION/$CLUSTER on $HOST:$PORT"
as_root pg_ctlcluster "$VERSION" "$CLUSTER" start
for _ in $(seq 1 30); do
    answers && break
    sleep 1
done
if ! answers; then
    say "the cluster did not answer on $HOST:$PORT within 30 s; see /var/log/postgresql/"
    exit 1
fi
say "PostgreSQL $VERSION answers on $HOST:$PORT"
ensure_database
