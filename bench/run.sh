#!/usr/bin/env bash
# The HTTP benchmark suite: rathaus on SQLite and on PostgreSQL (fsync on) against this machine's
# own floor (bench/floor: a hello-world axum route and a durable insert), all in one run; prints a
# Markdown table for BENCHMARKS.md with the date and the load average.
#
#   bench/run.sh [--sqlite-only] [--seconds N] [--before BIN] [--no-build]
#     N seconds per measurement (default 10); BIN: an earlier release binary whose portal, page
#     and memory figures are measured in the same run, for a before/after table
#
# Builds the release binary (`cargo build --release --bin rathaus`) and the floor server under
# CARGO_TARGET_DIR (default ./target). The load comes from wrk (Debian's package) and oha (built
# once from crates.io into CARGO_TARGET_DIR/bench-tools); run as root, the script installs what is
# missing (wrk, PostgreSQL), otherwise it names what to install and stops. The PostgreSQL cluster
# is a throwaway one on port RATHAUS_BENCH_PG_PORT (default 54339), beside the test suite's.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=10
BACKENDS=both
BEFORE=
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --sqlite-only) BACKENDS=sqlite ;;
    --seconds) SECONDS_EACH="$2"; shift ;;
    --before) BEFORE="$2"; shift ;;
    --no-build) BUILD=0 ;;
    *) echo "usage: $0 [--sqlite-only] [--seconds N] [--before EARLIER_RATHAUS_BINARY] [--no-build]" >&2; exit 2 ;;
  esac
  shift
done

TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
OHA_VERSION=1.16.0
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1

apt_install() {
  if [ "$IS_ROOT" != 1 ]; then
    echo "bench/run.sh needs $* (Debian): run it as root to install it, or: sudo apt-get install $*" >&2
    exit 1
  fi
  echo "installing $* with apt-get ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2; }
}

command -v python3 >/dev/null || apt_install python3
command -v wrk >/dev/null || apt_install wrk
WRK="$(command -v wrk)"

# oha: a constant request rate with latency correction, which wrk (4.x, Debian's) cannot do.
OHA="$TARGET/bench-tools/bin/oha"
if [ ! -x "$OHA" ]; then
  if [ "$IS_ROOT" != 1 ] && ! command -v oha >/dev/null; then
    echo "bench/run.sh needs oha $OHA_VERSION: run it as root to build it, or: cargo install oha --version $OHA_VERSION --no-default-features --features native-tls" >&2
    exit 1
  fi
  if command -v oha >/dev/null; then
    OHA="$(command -v oha)"
  else
    # TLS through the system's OpenSSL: oha needs one TLS stack to compile, and rustls would
    # bring aws-lc's C build along.
    dpkg -s libssl-dev pkg-config >/dev/null 2>&1 || apt_install libssl-dev pkg-config
    echo "building oha $OHA_VERSION from crates.io (once, 10 to 30 minutes) ..." >&2
    CARGO_TARGET_DIR="$TARGET/bench-tools/build" cargo install oha --version "$OHA_VERSION" \
      --locked --no-default-features --features native-tls --root "$TARGET/bench-tools" --quiet
  fi
fi

if [ "$BUILD" = 1 ]; then
  echo "building rathaus and the floor server (release) ..." >&2
  cargo build --release --bin rathaus --quiet
  CARGO_TARGET_DIR="$TARGET/bench-floor" cargo build --release --locked --quiet \
    --manifest-path bench/floor/Cargo.toml
fi

PG_ARGS=()
if [ "$BACKENDS" = both ]; then
  export RATHAUS_TEST_PG_PORT="${RATHAUS_BENCH_PG_PORT:-54339}"
  export RATHAUS_TEST_PG_DIR="${RATHAUS_BENCH_PG_DIR:-/tmp/rathaus-pg-bench}"
  export RATHAUS_TEST_PG_DURABLE=1
  trap 'scripts/pg-test-cluster.sh stop' EXIT
  eval "$(scripts/pg-test-cluster.sh start)"
  PSQL="$(ls /usr/lib/postgresql/*/bin/psql | head -n 1)"
  for db in rathaus_bench floor_bench rathaus_before; do
    PGOPTIONS="-c client_min_messages=warning" "$PSQL" -q -X "$RATHAUS_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  done
  base="${RATHAUS_TEST_POSTGRES_URL%/*}"
  PG_ARGS=(--postgres-rathaus "$base/rathaus_bench" --postgres-floor "$base/floor_bench" --postgres-before "$base/rathaus_before")
fi

python3 bench/throughput.py --rathaus "$TARGET/release/rathaus" \
  --floor "$TARGET/bench-floor/release/rathaus-bench-floor" \
  --wrk "$WRK" --oha "$OHA" --seconds "$SECONDS_EACH" "${PG_ARGS[@]}" ${BEFORE:+--before "$BEFORE"}
