#!/usr/bin/env bash
# The whole gate: lint, format check, type check, then every test (or the given test paths).
# VENV / PYTHON choose the venv and interpreter (scripts/_venv.sh); .ci/run uses them for 3.13.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" dev
venv="${VENV:-.venv}"

# --- static checks (skipped with TESTS_ONLY=1, for a second interpreter) ---
if [ "${TESTS_ONLY:-0}" != "1" ]; then
  "$venv/bin/ruff" check .
  "$venv/bin/ruff" format --check .
  "$venv/bin/mypy"
fi

# --- tests ---
exec "$venv/bin/python" -m pytest -q "$@"
