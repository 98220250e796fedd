"""``python -m bot demo --browser`` refusals that need no browser: a port already taken."""

from __future__ import annotations

import socket
import subprocess
import sys

from tests.demo.conftest import ROOT


def test_a_taken_port_is_refused_in_one_line_naming_the_flag(needs_extra: None) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "bot", "demo", "--browser", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    [line] = done.stdout.splitlines()
    assert f"127.0.0.1:{port}" in line and "--port" in line
