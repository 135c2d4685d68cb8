#!/usr/bin/env bash
# Runs the whole test suite: formatting and lints, unit, contract and HTTP tests against SQLite and
# a throwaway PostgreSQL, the CLI as a process, and the browser tests in Chromium.
#
# Installs what it needs on Debian when run as root (PostgreSQL, sqlite3, Chromium, Node packages).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

log() { printf '\n==> %s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for spec in "$@"; do
    local pkg="${spec%%:*}" probe="${spec#*:}"
    [ -e "$probe" ] || command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (install them, or run as root)" >&2
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
}

apt_install "postgresql:/usr/lib/postgresql" "sqlite3:sqlite3" "chromium:/usr/bin/chromium" "poppler-utils:pdftotext" "zbar-tools:zbarimg" "clamav-daemon:/usr/sbin/clamd"

log "installing front-end packages (npm ci)"
npm ci --prefix web --no-audit --no-fund --loglevel=error >/dev/null

# Python with aiosmtpd for the SMTP capture server (scripts/smtp-capture.py), in a venv kept
# between runs; the Rust mail tests and the browser tests both use it.
export RATHAUS_E2E_VENV="${RATHAUS_E2E_VENV:-/var/tmp/rathaus-venv}"
export RATHAUS_E2E_PYTHON="$RATHAUS_E2E_VENV/bin/python"
if ! "$RATHAUS_E2E_PYTHON" -c 'import aiosmtpd, sepaxml' 2>/dev/null; then
  log "installing aiosmtpd and sepaxml into $RATHAUS_E2E_VENV"
  py=/usr/bin/python3; [ -x "$py" ] || py=python3
  "$py" -m venv --clear "$RATHAUS_E2E_VENV" 2>/dev/null || { apt_install "python3-venv:/nonexistent" && "$py" -m venv --clear "$RATHAUS_E2E_VENV"; }
  "$RATHAUS_E2E_PYTHON" -m pip install -q --disable-pip-version-check aiosmtpd sepaxml
fi
export RATHAUS_TEST_PYTHON="$RATHAUS_E2E_PYTHON" RATHAUS_TEST_REQUIRE_SMTP=1 RATHAUS_TEST_REQUIRE_SEPA=1
export RATHAUS_TEST_REQUIRE_PDF_TOOLS=1   # pdftotext, pdftoppm, zbarimg: installed above, so never skipped

log "starting a throwaway PostgreSQL and a ClamAV daemon"
trap 'scripts/pg-test-cluster.sh stop; scripts/clamd-test.sh stop' EXIT
eval "$(scripts/pg-test-cluster.sh start)"
eval "$(scripts/clamd-test.sh start)"
export RATHAUS_TEST_POSTGRES_URL RATHAUS_TEST_CLAMD_URL
export RATHAUS_TEST_REQUIRE_POSTGRES=1 RATHAUS_TEST_REQUIRE_ASSETS=1 RATHAUS_TEST_REQUIRE_OIDC=1 RATHAUS_TEST_REQUIRE_CLAMD=1

log "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

log "Rust tests (SQLite and PostgreSQL)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast --status-level fail --final-status-level slow
else
  cargo test --workspace --no-fail-fast
fi

if [ -d web/e2e ]; then
  log "browser tests (Chromium)"
  cargo build --quiet --bin rathaus
  RATHAUS_BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/rathaus"
  export RATHAUS_BIN RATHAUS_E2E_CHROMIUM=/usr/bin/chromium
  rm -rf test-results/e2e   # server logs, axe reports and captured mails of this run; screenshots go to screenshots/
  npm test --prefix web
fi

log "all tests passed"
