#!/usr/bin/env bash
# Regenerates the lock files from pyproject.toml, with hashes. Run it after changing a dependency
# (or to take newer releases within the ranges), then commit requirements/*.txt with the change.
#   requirements/runtime.txt   the bot's dependencies alone, Python 3.11 (the Docker image)
#   requirements/dev.txt       with every extra (tests, demo, lint, types), Python 3.11
#   requirements/dev-3.13.txt  the same for Python 3.13 (which needs e.g. audioop-lts)
# Each later file is constrained by the earlier ones, so every file names the same version of
# every package they share. The tool is pip-tools (pip-compile): it resolves with pip itself,
# reading the same pip config and indexes the install uses, and writes plain requirements files
# that pip installs with --require-hashes, so installing needs nothing but pip. Its resolution is
# per interpreter, hence one dev file per supported Python version.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/_python.sh
pip_tools="pip-tools==7.6.2"

compile_with() {  # compile_with X.Y args...: pip-compile run by a tools venv of that Python
  local version="$1" tools="$root/.venv-lock-$1"
  shift
  if [ ! -x "$tools/bin/pip-compile" ]; then
    "$(find_python "$version")" -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check "$pip_tools"
  fi
  "$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
    --no-emit-find-links --newline=lf --all-build-deps "$@" pyproject.toml
}

# The build backend is locked too (--all-build-deps), so installing the project needs no download.
compile_with 3.11 --output-file requirements/runtime.txt
compile_with 3.11 --all-extras --constraint requirements/runtime.txt --output-file requirements/dev.txt
compile_with 3.13 --all-extras --constraint requirements/dev.txt --output-file requirements/dev-3.13.txt
echo "Wrote requirements/runtime.txt, dev.txt and dev-3.13.txt; commit them with pyproject.toml."
