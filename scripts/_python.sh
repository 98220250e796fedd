# Sourced: find_python X.Y prints an interpreter of that minor version (on PATH, else under pyenv).
find_python() {
  local found
  if found="$(command -v "python$1" 2>/dev/null)" && "$found" -c '' 2>/dev/null; then
    echo "$found"
    return
  fi
  for found in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$1".*/bin/python"$1"; do
    [ -x "$found" ] && echo "$found" && return
  done
  echo "Python $1 not found (on PATH or under pyenv)" >&2
  return 1
}
