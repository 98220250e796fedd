"""Per-server caches: one load per miss under a burst, dropped by the writing transaction, across processes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.storage.db import Database
from bot.storage.moderation import ModerationRepository
from bot.storage.settings import SettingsRepository
from tests import backends

GUILD = 7
NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def test_a_burst_of_misses_reads_the_database_once(db: Database) -> None:
    settings = SettingsRepository(db)
    async with db.transaction() as tx:
        await settings.add_channel_in(tx, GUILD, 100, at=NOW, actor_id=1)
    before = db.stats.units
    answers = await asyncio.gather(*(settings.allowed_channels(GUILD) for _ in range(50)))
    assert answers == [[100]] * 50
    assert db.stats.units - before == 1  # one read unit for fifty concurrent askers


async def test_a_committed_write_is_seen_at_once_and_a_rolled_back_one_never(db: Database) -> None:
    settings, moderation = SettingsRepository(db), ModerationRepository(db)
    assert await settings.allowed_channels(GUILD) == []
    assert await moderation.block(GUILD, 5) is None
    async with db.transaction() as tx:
        await settings.add_channel_in(tx, GUILD, 100, at=NOW, actor_id=1)
        await moderation.add_block_in(tx, GUILD, 5, 1, "spam", NOW)
    assert await settings.allowed_channels(GUILD) == [100]
    assert (block := await moderation.block(GUILD, 5)) is not None and block.reason == "spam"

    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await settings.remove_channel_in(tx, GUILD, 100)
            raise RuntimeError("changed my mind")
    assert await settings.allowed_channels(GUILD) == [100]


async def test_settings_read_in_a_unit_follow_an_admin_change(db: Database) -> None:
    settings = SettingsRepository(db)

    async def cap() -> int | None:
        async def read(tx):  # type: ignore[no-untyped-def]
            return (await settings.cached_in(tx, GUILD)).budget_cap

        return await db.run(read)

    assert await cap() is None
    async with db.transaction() as tx:
        await settings.update_in(tx, GUILD, at=NOW, actor_id=1, budget_cap=500)
    assert await cap() == 500


@pytest.mark.postgres_only
async def test_another_process_hears_the_change(tmp_path: Path, backend: backends.Backend) -> None:
    # Two Database objects on one PostgreSQL database: two bot processes as far as caches go.
    target = backend.target(tmp_path)
    first, second = await Database.open(target), await Database.open(target)
    try:
        reader = SettingsRepository(second)
        assert await reader.allowed_channels(GUILD) == []
        async with first.transaction() as tx:
            await SettingsRepository(first).add_channel_in(tx, GUILD, 100, at=NOW, actor_id=1)
        # The NOTIFY arrives asynchronously; wait for what the member would see, not for a time.
        for _ in range(500):
            if await reader.allowed_channels(GUILD) == [100]:
                break
            await asyncio.sleep(0.01)
        assert await reader.allowed_channels(GUILD) == [100]
    finally:
        await first.close()
        await second.close()


async def test_the_writing_transaction_reads_its_own_change(db: Database) -> None:
    settings = SettingsRepository(db)

    async def read(tx):  # type: ignore[no-untyped-def]
        return (await settings.cached_in(tx, GUILD)).budget_cap

    assert await db.run(read) is None  # cached now
    async with db.transaction() as tx:
        await settings.update_in(tx, GUILD, at=NOW, actor_id=1, budget_cap=500)
        assert await read(tx) == 500
