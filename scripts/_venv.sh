# Sourced by the entry scripts: make (or reuse) a venv installed from the lock, with the given extra.
#   $1        the extra the caller needs (dev, demo, ...); every extra is in the dev lock
#   VENV      the venv folder (default .venv); PYTHON the interpreter to make it with (default python3)
# The lock is requirements/dev-X.Y.txt for that Python version when there is one, else
# requirements/dev.txt (3.11); scripts/lock.sh writes them. Reinstalls whenever the lock,
# pyproject.toml or the interpreter changes (a stamp holds their hash).
# Only Python 3.11+ and the package registries are assumed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python_bin="${PYTHON:-python3}"
venv="${VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  "$python_bin" -m venv "$venv"
fi
version="$("$venv/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
lock="requirements/dev-$version.txt"
[ -f "$lock" ] || lock="requirements/dev.txt"
wanted="$(cat "$lock" pyproject.toml | sha256sum | cut -c1-16)-$("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])')"
# One stamp per extra: the demo and the tests share .venv without reinstalling for each other.
stamp="$venv/.installed-$1"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
  pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check)
  # Exactly the locked versions, each checked against its hash.
  "${pip[@]}" install --require-hashes --no-deps -r "$lock"
  # The project itself, with the build backend just installed from the lock. Dependencies are
  # resolved too, so one added to pyproject.toml before the lock was regenerated still installs.
  "${pip[@]}" install --no-build-isolation -e ".[$1]"
  "$venv/bin/python" - "$lock" <<'PY'
import re, sys
from importlib.metadata import distributions
locked = {re.sub(r"[-_.]+", "-", m.group(1)).lower()
          for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", open(sys.argv[1]).read(), re.M)}
extra = sorted({re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in distributions()} - locked - {"wanbot", "pip"})
if extra:
    print(f"note: not in {sys.argv[1]}: {', '.join(extra)}; run scripts/lock.sh and commit the lock", file=sys.stderr)
PY
  echo "$wanted" > "$stamp"
fi
