"""Running the command line in-process: ``main()`` runs its own event loop, so it goes to a
thread while the test's loop serves the loopback fakes (provider, Discord API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import discord
import pytest
import pytest_asyncio

from bot.cli import main
from tests.fakes.discord_api import FakeDiscordApi

DISCORD_TOKEN = "discord-token-for-tests.0123456789"


@dataclass
class Result:
    code: int
    out: str
    err: str


Cli = Callable[..., Awaitable[Result]]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISCORD_TOKEN", "WAN_API_KEY", "WANBOT_WEBHOOK_SECRET", "WANBOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    async def run(*argv: str) -> Result:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest_asyncio.fixture
async def discord_api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscordApi]:
    api = await FakeDiscordApi(token=DISCORD_TOKEN).start()
    monkeypatch.setattr(discord.http.Route, "BASE", api.base)
    try:
        yield api
    finally:
        await api.stop()


def write_config(tmp_path: Path, text: str = "") -> Path:
    database = tmp_path / "wanbot.sqlite3"
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\npath = "{database}"\n{text}', encoding="utf-8")
    return path
