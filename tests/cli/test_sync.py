"""``python -m bot sync``: registers the command tree over HTTP, globally or per server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import DISCORD_TOKEN, Cli, write_config
from tests.fakes.discord_api import FakeDiscordApi, Registration

COMMANDS = [
    "Animate with Wan",
    "Remove video",
    "Transform with Wan",
    "credits",
    "help",
    "jobs",
    "video",
    "wan-admin",
    "wan-mod",
]


async def test_sync_registers_in_the_given_servers(tmp_path: Path, cli: Cli, discord_api: FakeDiscordApi) -> None:
    path = write_config(tmp_path, f'[discord]\ntoken = "{DISCORD_TOKEN}"\n')
    result = await cli("sync", "--guild", "111", "--guild", "222", "--config", str(path))
    assert result.code == 0, result.err
    assert [(r.guild_id, sorted(r.names)) for r in discord_api.registrations] == [(111, COMMANDS), (222, COMMANDS)]
    listed = " ".join(f"/{name}" for name in COMMANDS)
    assert f"Registered {len(COMMANDS)} commands in server 111, server 222: {listed}" in result.out
    # Only the command tree was built: no database file, no job loop.
    assert not (tmp_path / "wanbot.sqlite3").exists()


async def test_sync_registers_globally_by_default(
    tmp_path: Path, cli: Cli, discord_api: FakeDiscordApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", DISCORD_TOKEN)
    result = await cli("sync", "--config", str(write_config(tmp_path)))
    assert result.code == 0, result.err
    [registration] = discord_api.registrations
    assert registration == Registration(None, registration.names) and sorted(registration.names) == COMMANDS
    assert "globally" in result.out


async def test_sync_needs_a_valid_token(tmp_path: Path, cli: Cli, discord_api: FakeDiscordApi) -> None:
    result = await cli("sync", "--config", str(write_config(tmp_path)))
    assert result.code == 2 and "No Discord token" in result.err
    path = write_config(tmp_path, '[discord]\ntoken = "wrong"\n')
    result = await cli("sync", "--config", str(path))
    assert result.code == 1 and "Discord refused the token" in result.err
    assert discord_api.registrations == []
