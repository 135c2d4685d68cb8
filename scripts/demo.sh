#!/usr/bin/env bash
# Starts rathaus with the demo data on http://127.0.0.1:8080 (data in ./data; stop with Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "Rust is needed: install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >/dev/null
  else
    echo "Node.js and npm are needed for the design system's files: sudo apt-get install nodejs npm" >&2
    exit 1
  fi
fi

npm ci --prefix web --omit=dev --no-audit --no-fund --loglevel=error >/dev/null
exec cargo run --release --quiet --bin rathaus -- demo "$@"
