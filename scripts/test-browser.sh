#!/usr/bin/env bash
# Runs only the browser tests (web/e2e) — the last part of scripts/test.sh, for iterating on them.
#
#   scripts/test-browser.sh                      # all browser tests
#   scripts/test-browser.sh e2e/portal.test.js   # one file (paths relative to web/)
#   RATHAUS_E2E_HEADFUL=1 scripts/test-browser.sh  # watch the browser (needs a display)
#   RATHAUS_BIN=/path/to/rathaus scripts/test-browser.sh  # use that binary, do not build
#
# Builds the debug binary (into $CARGO_TARGET_DIR if set), installs the npm packages when the lockfile
# changed and aiosmtpd into a venv when missing. Screenshots: screenshots/; logs, axe reports and
# captured mails: test-results/e2e/.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*" >&2; }

[ -x /usr/bin/chromium ] || { echo "Chromium is needed: apt-get install chromium" >&2; exit 1; }

if [ ! -d web/node_modules/playwright-core ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  log "installing front-end packages (npm ci)"
  npm ci --prefix web --no-audit --no-fund --loglevel=error >/dev/null
fi

export RATHAUS_E2E_VENV="${RATHAUS_E2E_VENV:-/var/tmp/rathaus-venv}"
export RATHAUS_E2E_PYTHON="$RATHAUS_E2E_VENV/bin/python"
if ! "$RATHAUS_E2E_PYTHON" -c 'import aiosmtpd' 2>/dev/null; then
  log "installing aiosmtpd into $RATHAUS_E2E_VENV"
  py=/usr/bin/python3; [ -x "$py" ] || py=python3
  "$py" -m venv --clear "$RATHAUS_E2E_VENV"
  "$RATHAUS_E2E_PYTHON" -m pip install -q --disable-pip-version-check aiosmtpd
fi

if [ -z "${RATHAUS_BIN:-}" ]; then
  log "building rathaus"
  cargo build --quiet --bin rathaus
  RATHAUS_BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/rathaus"
fi
export RATHAUS_BIN RATHAUS_E2E_CHROMIUM=/usr/bin/chromium

log "browser tests (Chromium)"
rm -rf test-results/e2e
if [ "$#" -gt 0 ]; then
  cd web && exec node --test --test-concurrency=1 "$@"
fi
exec npm test --prefix web
