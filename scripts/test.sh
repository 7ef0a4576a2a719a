#!/usr/bin/env bash
# Install what the tests need on a fresh Debian machine, then run lint, type checks and the suite.
# Usage: scripts/test.sh [pytest arguments]   (with arguments: that one pytest run, on SQLite unless
#        --backend postgresql is among them)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the suite drives, installed only when missing: wrk (the bench smoke test); chromium (the
# console's browser tests, driven by Playwright, which never downloads a browser of its own); postgresql and
# redis-server (a fleet's shared services: tests/services.py starts its own of each, on free ports in a
# temporary folder); haproxy (the load balancer in front of a fleet).
# Node.js and npm run the official SignalR client against the hub (tests/hub).
apt_packages=(wrk chromium postgresql redis-server haproxy)
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

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
pip_install -e ".[test]"

# The official @microsoft/signalr client, the exact version the in-game resource ships (package-lock.json).
npm ci --prefix tests/hub --no-audit --no-fund --loglevel=error >/dev/null

echo "== ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
echo "== mypy"
.venv/bin/mypy
# Two test processes (pytest-xdist): each starts its own PostgreSQL and Redis when a test needs them.
echo "== pytest (SQLite)"
.venv/bin/pytest -n 2 "$@"
if [ "$#" -eq 0 ]; then
  # The service and HTTP suites again on PostgreSQL (the browser and benchmark tests are about the
  # pages and the bench, not the database: they ran once above). With arguments, only the run asked for.
  echo "== pytest (PostgreSQL)"
  .venv/bin/pytest -n 2 --backend postgresql --ignore-glob='*browser*' --ignore=tests/bench -q
fi
