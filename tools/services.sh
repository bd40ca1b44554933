#!/usr/bin/env bash
# Private PostgreSQL and RabbitMQ on 127.0.0.1 for the integration tests.
#
#   tools/services.sh start    start both (idempotent); prints export lines
#   tools/services.sh stop     stop both, by PID
#   tools/services.sh restart-rabbit
#   tools/services.sh stop-pg | start-pg | restart-pg
#                              the private PostgreSQL cluster only (restart
#                              is pg_ctl restart -m fast: every connection is
#                              cut, as in a database failover)
#
# State lives in $CAAS_SERVICES_DIR (default /tmp/caas-services). Nothing is
# started by systemd: each server is a child we can stop by PID.
set -euo pipefail

DIR=${CAAS_SERVICES_DIR:-/tmp/caas-services}
# Below the kernel's ephemeral range (32768-60999 by default): a port in it
# may be held as the local end of some client connection at the moment a
# test restarts the broker, and the listener then cannot bind (seen once:
# RabbitMQ "could_not_start_listener" after a restart).
PG_PORT=${CAAS_PG_PORT:-25432}
RABBIT_PORT=${CAAS_RABBIT_PORT:-25672}
RABBIT_DIST_PORT=${CAAS_RABBIT_DIST_PORT:-$((RABBIT_PORT + 1))}
PG_BIN=$({ find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null ||
  true; } | sort -V | tail -n 1)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/rabbitmq.sh
. "$HERE/lib/rabbitmq.sh"
rabbit_node_env caas "$RABBIT_PORT" "$RABBIT_DIST_PORT" "$DIR/rabbit"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_pg() {
  [ -n "$PG_BIN" ] || { echo "PostgreSQL is not installed" >&2; return 1; }
  mkdir -p "$DIR"
  if [ ! -f "$DIR/pg/PG_VERSION" ]; then
    mkdir -p "$DIR/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR/pg"
    as_postgres "$PG_BIN/initdb" -D "$DIR/pg" -U postgres --auth=trust \
      -E UTF8 >"$DIR/initdb.log" 2>&1
  fi
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg" status >/dev/null 2>&1; then
    if port_busy "$PG_PORT"; then
      echo "port $PG_PORT is taken by a server we did not start; set CAAS_PG_PORT" >&2
      return 1
    fi
    as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg" -l "$DIR/pg/server.log" -w \
      -o "-p $PG_PORT -k $DIR/pg -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
  fi
  as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='caas'" | grep -q 1 ||
    as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres caas
}

stop_pg() {
  [ -f "$DIR/pg/postmaster.pid" ] || return 0
  as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg" -m fast -w stop >/dev/null || true
}

restart_pg() {
  # Only a cluster we started (its data directory is ours) is restarted.
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg" status >/dev/null 2>&1; then
    start_pg; return
  fi
  as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg" -l "$DIR/pg/server.log" -m fast -w \
    -o "-p $PG_PORT -k $DIR/pg -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" \
    restart >/dev/null
}

start_rabbit() {
  rabbit_start || { echo "RabbitMQ node $RABBITMQ_NODENAME did not start" >&2; return 1; }
}

stop_rabbit() {
  rabbit_stop
}

case "${1:-}" in
  start)
    start_pg
    start_rabbit
    echo "export CAAS_TEST_DB_URL=postgresql+psycopg2://postgres@127.0.0.1:$PG_PORT/caas"
    echo "export CAAS_TEST_TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:$RABBIT_PORT/"
    ;;
  stop) stop_rabbit; stop_pg ;;
  start-rabbit) start_rabbit ;;
  stop-rabbit) stop_rabbit ;;
  restart-rabbit) stop_rabbit; start_rabbit ;;
  start-pg) start_pg ;;
  stop-pg) stop_pg ;;
  restart-pg) restart_pg ;;
  *) echo "usage: $0 start|stop|start-rabbit|stop-rabbit|restart-rabbit|start-pg|stop-pg|restart-pg" >&2; exit 2 ;;
esac
