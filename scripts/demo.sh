#!/usr/bin/env bash
# Runs the offline demo: the real bot on a simulated Discord, SQLite in a temp folder,
# the sandbox provider. No token, no network. --browser serves it as a Discord-like page and
# --screenshots DIR takes the README's pictures: both install the `browser` extra (and chromium) first.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" demo
case " $* " in
  *" --browser "* | *" --screenshots"*) source "$(dirname "${BASH_SOURCE[0]}")/_browser.sh" ;;
esac
exec .venv/bin/python -m bot demo "$@"
