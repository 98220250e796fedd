"""``python -m bot demo --screenshots DIR``: one real PNG per tour step, each capture ready and complete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

from bot.demo_tour import STEPS
from tests.demo.conftest import ROOT


def test_the_tour_writes_one_complete_png_per_step(needs_screenshots: None, tmp_path: Path) -> None:
    folder = tmp_path / "shots"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--screenshots", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    written = sorted(folder.iterdir())
    assert [path.name for path in written] == [f"{step}.png" for step in STEPS]
    for step, path in zip(STEPS, written, strict=True):
        assert path.stat().st_size > 1000
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width > 0 and image.height > 0
        [report] = [line for line in done.stdout.splitlines() if line.strip().startswith(str(path))]
        # The capture's own report: settled rendering and every source (fonts, video frame, chart) present.
        assert report.endswith(f"{image.width}x{image.height}  ready, complete"), (step, report)
    assert f"{len(STEPS)} screenshots written, each ready and complete." in done.stdout


def test_the_browser_demo_says_in_one_line_what_to_install_without_the_extra() -> None:
    # As if PyAV were not installed: the import system reports None for a module mapped to None.
    code = (
        "import sys; sys.modules['av'] = None; from bot.cli import main;"
        " sys.exit(main(['demo', '--browser', '--port', '0']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    [line] = done.stdout.splitlines()
    assert "'browser' extra" in line and "missing: av" in line and "pip install -e '.[browser]'" in line


def test_the_screenshots_say_in_one_line_what_to_install_without_chromium(needs_extra: None, tmp_path: Path) -> None:
    code = "import sys; from bot.cli import main; sys.exit(main(['demo', '--screenshots', sys.argv[1]]))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "shots")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/nonexistent", "WANBOT_CHROMIUM": str(tmp_path / "no-such-browser")},
    )
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stdout.splitlines()
    assert "Chromium" in line and "apt-get install chromium" in line
    assert not (tmp_path / "shots").exists()
