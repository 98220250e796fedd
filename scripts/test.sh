#!/usr/bin/env bash
# The whole gate: lint, format check, type check, then every test.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy

# --- PostgreSQL: a throwaway cluster for the PostgreSQL half of the suite (scripts/_postgres.sh) ---
source "$(dirname "${BASH_SOURCE[0]}")/_postgres.sh"

.venv/bin/python -m pytest -q "$@"
