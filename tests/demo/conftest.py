"""Browser demo harness: the real ``python -m bot demo --browser`` as a subprocess, and headless
Debian Chromium driven by Playwright the way a person would use the page.

Without the ``browser`` extra or a Chromium these tests skip with one loud line, except when ``CI``
is set: CI must run them, so there they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.demo_browser import CHROMIUM_FLAGS, chromium_path, missing_extra, missing_preview, missing_screenshots

ROOT = Path(__file__).resolve().parents[2]
_NOT_RUN: list[str] = []


def require(problem: str | None) -> None:
    if problem is None:
        return
    line = f"BROWSER TESTS NOT RUN: {problem}"
    if os.environ.get("CI"):
        pytest.fail(f"{line} (CI is set, so this is a failure, not a skip)", pytrace=False)
    _NOT_RUN.append(line)
    pytest.skip(line)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _NOT_RUN:
        terminalreporter.write_line(_NOT_RUN[0], red=True, bold=True)


@pytest.fixture
def needs_page_browser() -> None:
    require(missing_preview() or missing_screenshots())


@pytest.fixture
def needs_extra() -> None:
    require(missing_extra())


@pytest.fixture
def needs_screenshots() -> None:
    require(missing_screenshots())


async def _read_line(stream: asyncio.StreamReader, timeout: float) -> str:  # noqa: ASYNC109
    line = await asyncio.wait_for(stream.readline(), timeout)
    if not line:
        raise EOFError("the demo's output ended")
    return line.decode().rstrip("\n")


@dataclass
class LiveDemo:
    process: asyncio.subprocess.Process
    url: str = ""
    lines: list[str] = field(default_factory=list)

    async def stop(self) -> tuple[int, list[str]]:
        """Ctrl-C, as a person would press it; the exit code and what it printed after."""
        self.process.send_signal(signal.SIGINT)
        assert self.process.stdout is not None
        rest, _ = await asyncio.wait_for(self.process.communicate(), 30)
        return self.process.returncode or 0, rest.decode().splitlines()


@pytest.fixture
async def live_demo(needs_page_browser: None) -> AsyncIterator[LiveDemo]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
        "--browser",
        "--port",
        "0",
        "--speed",
        "20",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    demo = LiveDemo(process)
    try:
        assert process.stdout is not None
        while not demo.url:
            line = await _read_line(process.stdout, 60)
            demo.lines.append(line)
            if match := re.match(r"Open (http://127\.0\.0\.1:\d+/#\S+)$", line):
                demo.url = match.group(1)
        while not demo.lines[-1].startswith("Ctrl-C"):
            demo.lines.append(await _read_line(process.stdout, 10))
        yield demo
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.fixture
async def page(needs_page_browser: None, tmp_path: Path) -> AsyncIterator[Any]:
    """A fresh headless Chromium page (a new, empty profile folder for this test only)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(chromium_path()),
            args=list(CHROMIUM_FLAGS),
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context.pages[0] if context.pages else await context.new_page()
        finally:
            await context.close()
