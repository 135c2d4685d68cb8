#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite, in a temporary directory.
#
#   scripts/pg-test-cluster.sh start   # prints: export RATHAUS_TEST_POSTGRES_URL=...
#   scripts/pg-test-cluster.sh stop
#
# RATHAUS_TEST_PG_PORT and RATHAUS_TEST_PG_DIR choose another port and directory (a second cluster
# beside the suite's). RATHAUS_TEST_PG_DURABLE=1 keeps PostgreSQL's durable defaults (fsync,
# synchronous_commit, full_page_writes on) for benchmarks; the suite runs without them.
#
# Uses Debian's PostgreSQL binaries (installs the package with apt-get when missing and running as
# root). PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user.
set -euo pipefail

PORT="${RATHAUS_TEST_PG_PORT:-54329}"
DIR="${RATHAUS_TEST_PG_DIR:-/tmp/rathaus-pg-test}"
DURABLE="${RATHAUS_TEST_PG_DURABLE:-0}"

find_bin() {
  local b
  for b in /usr/lib/postgresql/*/bin; do
    [ -x "$b/pg_ctl" ] && { echo "$b"; return 0; }
  done
  return 1
}

ensure_installed() {
  if ! find_bin >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      echo "installing PostgreSQL with apt-get ..." >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
    else
      echo "PostgreSQL binaries not found; install the Debian package 'postgresql'" >&2
      exit 1
    fi
  fi
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home "$DIR" postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  ensure_installed
  local bin; bin="$(find_bin)"
  if [ -f "$DIR/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    echo "export RATHAUS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
    return 0
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
  as_owner "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  # Throwaway data: durability off makes the suite faster; the SQLite tests cover fsync behaviour.
  # Benchmarks measure what a commit costs, so they keep it on.
  local durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "$DURABLE" = 1 ] && durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
  as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 $durability -c max_connections=200" \
    start >/dev/null
  echo "export RATHAUS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
}

stop() {
  local bin; bin="$(find_bin)" || return 0
  [ -d "$DIR/data" ] && as_owner "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
