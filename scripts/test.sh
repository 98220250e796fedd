#!/usr/bin/env bash
# The whole gate: lint, format check, type check, then every test.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" dev
source "$(dirname "${BASH_SOURCE[0]}")/_browser.sh"  # browser-demo: the `browser` extra and chromium for tests/demo
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
