# Sourced after _venv.sh by the scripts that need a browser (tests, demo --browser/--screenshots):
# the `browser` extra in .venv (SimCord's preview, PyAV, Playwright), and Debian's chromium when it
# is missing and this machine lets us install it (root with apt-get). Playwright cannot download its
# own browser here; bot/demo_browser.py points it at /usr/bin/chromium. A failed chromium install
# does not stop the caller: the browser tests then say so loudly and skip, or fail when CI is set.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" browser
if [ -z "${WANBOT_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 \
  && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser demo and its tests (apt-get)..." >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
    || echo "Could not install chromium; the browser tests will say so." >&2
fi
