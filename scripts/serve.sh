#!/usr/bin/env bash
# Install OpenDispatch into .venv and serve it on the embedded SQLite database (opendispatch.db).
# Usage: scripts/serve.sh [opendispatch serve options, e.g. --host 0.0.0.0 --port 8080]
set -euo pipefail
cd "$(dirname "$0")/.."
# pip's own output is kept, minus this machine's notes about absent local mirrors; a failure still fails.
pip_install() {
  local log status=0
  log=$(mktemp)
  .venv/bin/python -m pip install -q "$@" >"$log" 2>&1 || status=$?
  grep -v "^WARNING: Location" "$log" || true
  rm -f "$log"
  return "$status"
}

[ -x .venv/bin/python ] || python3 -m venv .venv
pip_install --upgrade pip
pip_install -e .
exec .venv/bin/opendispatch serve "$@"
