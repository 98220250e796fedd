"""A second bot process on the same SQLite file refuses to start, in one line that names the file
and points at PostgreSQL; the first process's death (even SIGKILL) frees the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.conftest import DISCORD_TOKEN, write_config

REPO = Path(__file__).resolve().parents[2]


def start_holder(config: Path, ready: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.cli.sqlite_bot", str(config), str(ready)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    while not ready.exists():
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        time.sleep(0.02)
    return process


def second_bot(config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DISCORD_TOKEN": DISCORD_TOKEN}
    env.pop("WANBOT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_second_bot_on_the_same_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    database = tmp_path / "wanbot.sqlite3"
    first = start_holder(config, tmp_path / "first.ready")
    try:
        refused = second_bot(config)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert str(database) in lines[0]
    assert f"pid {first.pid}" in lines[0]
    assert "one bot process per file" in lines[0] and "PostgreSQL" in lines[0] and "[database] url" in lines[0]

    # The killed process left no stale lock: the next bot starts on the same file.
    again = start_holder(config, tmp_path / "again.ready")
    again.send_signal(signal.SIGKILL)
    again.wait()
