"""What the browser demo needs on this machine, and how Chromium is started for it.

Playwright cannot download its own browser here, so it is pointed at Debian's ``chromium``
(``apt-get install chromium``) by an explicit executable path, the first of: ``$WANBOT_CHROMIUM``,
``/usr/bin/chromium``, ``chromium`` or ``chromium-browser`` on the PATH. This was chosen over a
``PLAYWRIGHT_BROWSERS_PATH`` folder with a symlink where Playwright expects its headless shell,
because that layout is private to each Playwright release and breaks silently on upgrade.
Playwright gives every ``launch`` a fresh temporary profile (``--user-data-dir``) of its own and
refuses that flag in ``args``; the browser tests use ``launch_persistent_context`` on a fresh empty
folder instead, so no state ever carries over from one run to the next.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

# No sandbox (root in containers), no GPU, and nothing that reaches the network by itself.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# SimCord's preview page renders with these (PyAV decodes video frames for posters and captures).
PREVIEW_MODULES = ("aiohttp", "av", "markdown_it", "linkify_it", "regex", "PIL")
INSTALL_EXTRA = "pip install -e '.[browser]' (or run bash scripts/demo.sh --browser, which installs it)"
INSTALL_CHROMIUM = "apt-get install chromium (or set WANBOT_CHROMIUM to a Chromium or Chrome binary)"


def _missing(modules: tuple[str, ...]) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


def missing_preview() -> str | None:
    """One line saying what to install for ``--browser``, or None when it can run."""
    missing = _missing(PREVIEW_MODULES)
    if missing:
        return f"The browser demo needs the 'browser' extra (missing: {', '.join(missing)}): {INSTALL_EXTRA}"
    return None


def chromium_path() -> Path | None:
    configured = os.environ.get("WANBOT_CHROMIUM")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def missing_extra() -> str | None:
    """One line saying what to install for the whole ``browser`` extra (with Playwright), or None."""
    missing = _missing((*PREVIEW_MODULES, "playwright"))
    if missing:
        return f"Screenshots need the 'browser' extra (missing: {', '.join(missing)}): {INSTALL_EXTRA}"
    return None


def missing_screenshots() -> str | None:
    """One line saying what to install for ``--screenshots`` (the extra and a Chromium), or None."""
    problem = missing_extra()
    if problem:
        return problem
    if chromium_path() is None:
        return f"Screenshots and the browser tests need Chromium, and none was found: {INSTALL_CHROMIUM}"
    return None


async def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium ``Browser`` (Playwright picks a fresh temporary profile for it)."""
    path = chromium_path()
    if path is None:
        raise RuntimeError(f"no Chromium found: {INSTALL_CHROMIUM}")
    return await playwright.chromium.launch(executable_path=str(path), args=list(CHROMIUM_FLAGS))
