#!/usr/bin/env bash
# The whole gate. With no arguments: static checks (ruff, format, mypy) and every test on Python
# 3.11 in .venv, then every test again on Python 3.13 in .venv-3.13 (found on PATH or under pyenv;
# missing, that half is skipped with one loud line, or fails when CI is set). .ci/run is exactly this.
# With arguments (test paths, pytest flags): one interpreter (PYTHON, VENV; default python3, .venv),
# static checks first unless TESTS_ONLY=1, then pytest with those arguments.
set -euo pipefail
scripts="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ $# -eq 0 ] && [ -z "${WANBOT_GATE_STAGE:-}" ]; then
  source "$scripts/_python.sh"
  echo "== Python 3.11: static checks and the test suite =="
  WANBOT_GATE_STAGE=3.11 PYTHON="$(find_python 3.11)" bash "$scripts/test.sh"
  if py313="$(find_python 3.13)"; then
    echo "== Python 3.13: the test suite =="
    WANBOT_GATE_STAGE=3.13 VENV=.venv-3.13 PYTHON="$py313" TESTS_ONLY=1 bash "$scripts/test.sh"
  elif [ -n "${CI:-}" ]; then
    echo "Python 3.13 is required in CI (on PATH or under pyenv)" >&2
    exit 1
  else
    echo "!!! PYTHON 3.13 NOT FOUND: the 3.13 half of the gate was skipped !!!" >&2
  fi
  exit 0
fi

source "$scripts/_venv.sh" dev
venv="${VENV:-.venv}"
source "$scripts/_browser.sh"  # the `browser` extra and chromium for tests/demo

# --- static checks (skipped with TESTS_ONLY=1, for a second interpreter) ---
if [ "${TESTS_ONLY:-0}" != "1" ]; then
  "$venv/bin/ruff" check .
  "$venv/bin/ruff" format --check .
  "$venv/bin/mypy"
fi

# --- PostgreSQL: a throwaway cluster for the PostgreSQL half of the suite (scripts/_postgres.sh) ---
source "$scripts/_postgres.sh"

# --- tests (not exec: the cluster is stopped by the trap on exit) ---
"$venv/bin/python" -m pytest -q "$@"
