"""The API key and the bot token never reach a log line, a message or the database."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.bot.conftest import API_KEY


@pytest.mark.sqlite_only  # reads the database file's bytes
@pytest.mark.parametrize("kind", ["wan26ai", "apimall"])
async def test_api_key_stays_out_of_logs_messages_and_database(
    world_factory: Any, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with world_factory(kind, log_bodies=True) as world:
        world.server.inject("generate", status=500, error_message=f"upstream rejected key {API_KEY}")
        world.server.inject("status", malformed=True)
        await world.video(world.alice)
        await world.env.advance_time(300)
        assert len(world.results()) == 1
        database = Path(world.config.database.path)
        stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        messages = " ".join(m.content + str([e.to_dict() for e in m.embeds]) for m in world.public())
    logged = "\n".join(record.getMessage() + str(record.exc_info or "") for record in caplog.records)
    assert "a lighthouse in a storm" in logged  # bodies really were logged
    assert API_KEY not in logged
    assert API_KEY.encode() not in stored
    assert API_KEY not in messages
    assert "Bearer" not in logged
