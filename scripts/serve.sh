#!/usr/bin/env bash
# Install OpenDispatch into .venv and serve it on the embedded SQLite database (opendispatch.db).
# Usage: scripts/serve.sh [opendispatch serve options, e.g. --host 0.0.0.0 --port 8080]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q -e . 2>&1 | grep -v "^WARNING: Location" || true
exec .venv/bin/opendispatch serve "$@"
