"""``[discord] allowed_guild_ids``: the bot serves the listed servers and leaves any other."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import simcord

from bot.assemble import create_bot
from tests.bot.conftest import make_config

HOME = 1_200_000_000_000_000_001


async def test_a_server_that_is_not_allowed_is_left_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app")
    bot = create_bot(make_config(tmp_path, "sandbox", None, discord={"allowed_guild_ids": [HOME]}))
    async with simcord.run(bot) as env:
        home = env.create_guild(name="Home", id=HOME)
        stranger = env.create_guild(name="Stranger")
        await env.settle()
        assert [guild.id for guild in bot.guilds] == [home.id]
        assert stranger.id not in env.backend.guilds and home.id in env.backend.guilds
        await bot.close()
    assert f"leaving server Stranger (id {stranger.id}): not in [discord] allowed_guild_ids" in caplog.text
    assert "leaving server Home" not in caplog.text
    assert "ready: logged in as" in caplog.text and "provider sandbox" in caplog.text


async def test_without_a_list_every_server_is_served(tmp_path: Path) -> None:
    bot = create_bot(make_config(tmp_path, "sandbox", None))
    async with simcord.run(bot) as env:
        first, second = env.create_guild(name="One"), env.create_guild(name="Two")
        await env.settle()
        assert sorted(guild.id for guild in bot.guilds) == sorted([first.id, second.id])
        await bot.close()
