"""``python -m bot run`` as a real process: one plain line for every start-up failure, the
database opened before Discord is contacted, and SIGTERM as a clean stop with exit status 0.

Discord is a loopback fake (tests/fakes/discord_api.py) reached through WANBOT_DISCORD_API_BASE;
it answers the REST login, and the gateway is a loopback port that never answers, so a started
bot waits on its gateway handshake, which is enough to stop it with a signal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.cli.conftest import DISCORD_TOKEN, write_config
from tests.fakes.discord_api import FakeDiscordApi
from tests.providers.conftest import closed_port_url

ROOT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture
async def api() -> AsyncIterator[FakeDiscordApi]:
    fake = await FakeDiscordApi(token=DISCORD_TOKEN).start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def silent_gateway() -> Iterator[str]:
    """A loopback port that takes connections and never answers: the gateway handshake just waits."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}/"


def _env(tmp_path: Path, api_base: str, token: str = DISCORD_TOKEN, gateway: str | None = None) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DISCORD_TOKEN": token,
        "WANBOT_DISCORD_API_BASE": api_base,
        # Never a real address: a silent loopback port, or one where connecting is refused.
        "WANBOT_DISCORD_GATEWAY": gateway or closed_port_url().replace("http://", "ws://") + "/",
    }


async def _start(config: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--config",
        str(config),
        cwd=str(config.parent),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, err.decode()


def _failure_lines(err: str) -> list[str]:
    """What is left after the log lines (which start with a timestamp): the failure itself."""
    return [line for line in err.splitlines() if line and not line[:4].isdigit()]


async def test_unreachable_discord_is_one_line(tmp_path: Path) -> None:
    process = await _start(write_config(tmp_path), _env(tmp_path, closed_port_url() + "/api/v10"))
    code, err = await _finish(process)
    assert code == 1
    assert "Traceback" not in err
    lines = _failure_lines(err)
    assert len(lines) == 1 and lines[0].startswith("Cannot reach Discord (")
    assert "Check this machine's network, DNS and any firewall or proxy" in lines[0]


async def test_a_refused_token_is_one_line_without_the_token(tmp_path: Path, api: FakeDiscordApi) -> None:
    process = await _start(write_config(tmp_path), _env(tmp_path, api.base, token="refused-token.abcdef"))
    code, err = await _finish(process)
    assert code == 1 and "Traceback" not in err
    assert _failure_lines(err) == [
        "Discord refused the token. Copy it again from the Developer Portal (Bot → Reset Token) into DISCORD_TOKEN."
    ]
    assert "refused-token.abcdef" not in err


async def test_a_bad_database_path_fails_before_discord_is_contacted(tmp_path: Path, api: FakeDiscordApi) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text('[database]\npath = "blocker/db/wanbot.sqlite3"\n', encoding="utf-8")
    code, err = await _finish(await _start(config, _env(tmp_path, api.base)))
    assert code == 1 and "Traceback" not in err
    assert _failure_lines(err) == [
        f"Database not usable: {tmp_path / 'blocker'} is a file, so the database folder"
        f" {tmp_path / 'blocker' / 'db'} cannot be made."
    ]
    assert api.logins == 0


async def test_a_data_folder_this_user_cannot_write_names_the_folder_and_user(tmp_path: Path) -> None:
    if os.getuid() == 0:
        # Root writes anywhere except a read-only file system, which /proc/sys is.
        data = Path("/proc/sys")
        if os.access(data, os.W_OK):
            pytest.skip("no read-only folder to try as root")
        database = data / "wanbot" / "wanbot.sqlite3"
    else:
        data = tmp_path / "data"
        data.mkdir(mode=0o500)
        database = data / "wanbot.sqlite3"
    (tmp_path / "config.toml").write_text(f'[database]\npath = "{database}"\n', encoding="utf-8")
    code, err = await _finish(await _start(tmp_path / "config.toml", _env(tmp_path, closed_port_url())))
    assert code == 1 and "Traceback" not in err
    uid = os.getuid()
    assert _failure_lines(err) == [
        f"Database not usable: {data}, owned by user id {data.stat().st_uid}: user id {uid} cannot write in this"
        f" folder, which the database wanbot.sqlite3 needs. Give that user write access (the Docker image runs"
        " as user id 10001)."
    ]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_stops_the_bot_cleanly_with_status_zero(
    tmp_path: Path, api: FakeDiscordApi, silent_gateway: str, sig: signal.Signals
) -> None:
    database = tmp_path / "wanbot.sqlite3"
    process = await _start(write_config(tmp_path), _env(tmp_path, api.base, gateway=silent_gateway))
    assert process.stderr is not None
    seen: list[str] = []
    # setup_hook's last log line: the database is open, the job loop and the cogs are loaded.
    while not any("running on the sandbox provider" in line for line in seen):
        line = await asyncio.wait_for(process.stderr.readline(), timeout=60)
        assert line, "the bot ended before it started: " + "".join(seen)
        seen.append(line.decode())
    assert api.logins == 1
    process.send_signal(sig)
    code, rest = await _finish(process)
    err = "".join(seen) + rest
    assert code == 0, err
    assert f"{sig.name} received: stopping" in err and "stopped cleanly" in err
    assert "Traceback" not in err
    # Closed, not killed: SQLite folds the write-ahead log back in when the last connection closes.
    assert not Path(f"{database}-wal").exists()  # noqa: ASYNC240 - one stat() after the process ended
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_version_is_printed(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--version", cwd=str(ROOT), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0 and out.decode().startswith("wanbot 0.")
