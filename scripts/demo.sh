#!/usr/bin/env bash
# Runs the offline demo: the real bot on a simulated Discord, SQLite in a temp folder,
# the sandbox provider. No token, no network.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" demo
exec .venv/bin/python -m bot demo "$@"
