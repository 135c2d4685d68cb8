#!/usr/bin/env bash
# A throwaway ClamAV daemon for the test suite, in a temporary directory.
#
#   scripts/clamd-test.sh start   # prints: export RATHAUS_TEST_CLAMD_URL=tcp://127.0.0.1:<port>
#   scripts/clamd-test.sh stop
#
# Uses Debian's clamav-daemon (installs it with apt-get when missing and running as root), but none
# of its service machinery: no systemd unit, no freshclam. Signatures cannot be downloaded in CI, so
# the database is one signature written here: the EICAR anti-virus test string, found anywhere in a
# file. As root clamd switches to the user `clamav`, so the directory belongs to it.
set -euo pipefail

DIR="${RATHAUS_TEST_CLAMD_DIR:-/tmp/rathaus-clamd-test}"
CLAMD=/usr/sbin/clamd

# The standard EICAR test file (68 bytes), as a hex body signature (.ndb: name:target:offset:hex).
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'

ensure_installed() {
  [ -x "$CLAMD" ] && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "installing clamav-daemon with apt-get ..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q clamav-daemon >&2 \
      || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q clamav-daemon >&2; }
  else
    echo "clamd not found; install the Debian package 'clamav-daemon'" >&2
    exit 1
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Sends one command (zPING) and prints the reply, or fails.
ping_clamd() {
  local port="$1" reply
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'zPING\0' >&3
  IFS= read -r -d '' -t 5 reply <&3 || true
  exec 3<&-
  [ "$reply" = PONG ]
}

start() {
  ensure_installed
  if [ -f "$DIR/port" ] && ping_clamd "$(cat "$DIR/port")" 2>/dev/null; then
    echo "export RATHAUS_TEST_CLAMD_URL=tcp://127.0.0.1:$(cat "$DIR/port")"
    return 0
  fi
  stop
  mkdir -p "$DIR/db"
  local port; port="$(free_port)"
  printf 'Eicar-Test-Signature.rathaus:0:*:%s\n' "$(printf '%s' "$EICAR" | od -An -tx1 -v | tr -d ' \n')" \
    >"$DIR/db/rathaus-test.ndb"
  local user_line=""
  if [ "$(id -u)" = 0 ]; then
    user_line="User clamav"
  fi
  cat >"$DIR/clamd.conf" <<EOF
# Written by scripts/clamd-test.sh for the test suite; removed by "stop".
Foreground no
PidFile $DIR/clamd.pid
LogFile $DIR/clamd.log
DatabaseDirectory $DIR/db
TemporaryDirectory $DIR
TCPSocket $port
TCPAddr 127.0.0.1
$user_line
# Uploads are at most 32 MB; clamd's default stream limit is 25 MB.
StreamMaxLength 64M
MaxThreads 4
SelfCheck 0
EOF
  echo "$port" >"$DIR/port"
  if [ "$(id -u)" = 0 ]; then
    chown -R clamav: "$DIR"
  fi
  "$CLAMD" -c "$DIR/clamd.conf" >"$DIR/start.log" 2>&1 || {
    cat "$DIR/start.log" "$DIR/clamd.log" >&2 2>/dev/null || true
    exit 1
  }
  for _ in $(seq 1 100); do
    if ping_clamd "$port" 2>/dev/null; then
      echo "export RATHAUS_TEST_CLAMD_URL=tcp://127.0.0.1:$port"
      return 0
    fi
    sleep 0.2
  done
  echo "clamd did not answer on port $port:" >&2
  cat "$DIR/clamd.log" >&2 2>/dev/null || true
  exit 1
}

stop() {
  if [ -f "$DIR/clamd.pid" ]; then
    local pid; pid="$(cat "$DIR/clamd.pid")"
    if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
