"""A channel's failed deliveries since its last post or resume, read the same on both backends."""

from __future__ import annotations

from bot.domain.clock import from_ts
from bot.storage.channel_health import ChannelHealthRepository
from bot.storage.db import Database

GUILD, CHANNEL = 1000, 2000
# A moment whose neighbours a 4-byte float cannot tell apart: PostgreSQL's REAL would round it
# by about a minute, so a resume would seem to come before the failures it forgave.
T0 = 1_767_225_650.0


async def failed_delivery(db: Database, number: int, at: float) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO jobs (guild_id, channel_id, member_id, mode, prompt, duration, resolution, price, state,"
            " provider, idempotency_key, accepted_at, finished_at, error_code)"
            " VALUES (?, ?, 3, 'text-to-video', 'p', 5, '720p', 80, 'failed', 'wan26ai', ?, ?, ?, 'delivery_failed')",
            (GUILD, CHANNEL, f"key-{number}", at - 100, at),
        )


async def test_a_resume_forgives_exactly_the_failures_before_it(db: Database) -> None:
    repo = ChannelHealthRepository(db)
    for number in range(3):
        await failed_delivery(db, number, T0 + 1 + number)
    failures, paused_stretch = await repo.failures_since_last_post(GUILD, CHANNEL)
    assert failures == 3
    at = from_ts(T0 + 10)
    assert at is not None
    async with db.transaction() as tx:
        await repo.resume_in(tx, GUILD, CHANNEL, at)
    failures, stretch = await repo.failures_since_last_post(GUILD, CHANNEL)
    assert (failures, stretch) == (0, f"{T0 + 10:.3f}")
    await failed_delivery(db, 3, T0 + 20)
    assert await repo.failures_since_last_post(GUILD, CHANNEL) == (1, stretch)
    assert paused_stretch != stretch  # a new stretch: admins would be told again after a new pause
