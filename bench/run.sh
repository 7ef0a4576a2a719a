#!/usr/bin/env bash
# The benchmark in one command: install OpenDispatch into .venv, then run bench/run.py, which installs wrk
# with apt-get when it is missing and prints the table of docs/benchmarks.md, then bench/hub.py's and
# bench/hostile.py's tables.
# Usage: bench/run.sh [--quick] [--seconds N]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q -e . 2>&1 | grep -v "^WARNING: Location" || true
status=0
.venv/bin/python -m bench.run "$@" || status=$?
# The hub's rows (bench/hub.py): game servers sending positions over /apiWsHub, consoles watching.
if [[ " $* " != *" --only "* ]]; then
  hub_args=()
  [[ " $* " == *" --quick "* ]] && hub_args=(--seconds 2 --warmup 1 --beyond)
  echo
  .venv/bin/python -m bench.hub "${hub_args[@]}" || status=$?
  # The hostile row (bench/hostile.py): a call at its bound edited without pause, readers that never read.
  hostile_args=()
  [[ " $* " == *" --quick "* ]] && hostile_args=(--seconds 2)
  echo
  .venv/bin/python -m bench.hostile "${hostile_args[@]}" || status=$?
fi
exit $status
