"""Fairness refusals before any charge: running jobs per member, cooldown, allowed channels."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.errors import InvalidRequest, LimitReached
from bot.storage.db import Database
from tests.support import CHANNEL, GUILD, ManualClock, build_guarded, request


async def test_running_job_limit_holds_under_concurrent_clicks(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock, limits={"max_running_per_member": 2, "cooldown_seconds": 0})
    results = await asyncio.gather(*(g.core.jobs.accept(request(1)) for _ in range(10)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, LimitReached)]
    assert len(refused) == 8 and "the most one member may have at once (2)" in refused[0].message
    assert (await g.core.ledger.balance(GUILD, 1)).held == 160  # two holds, nothing for the refusals
    [first, *_] = await g.core.jobs.recent(GUILD, 1)
    await g.core.jobs.cancel(GUILD, first.id, 1)
    await g.core.jobs.accept(request(1))  # a finished job frees its place


async def test_cooldown_counts_from_the_last_job_that_was_not_refunded(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock, limits={"cooldown_seconds": 30})
    accepted = await g.core.jobs.accept(request(1))
    clock.advance(10)
    with pytest.raises(LimitReached, match="wait 20 more seconds"):
        await g.core.jobs.accept(request(1))
    await g.core.jobs.accept(request(2))  # another member is not slowed down
    await g.core.jobs.cancel(GUILD, accepted.job.id, 1)
    await g.core.jobs.accept(request(1))  # the cancelled job does not count
    assert (await g.core.ledger.balance(GUILD, 1)).available == 420


async def test_allowed_channels_and_their_threads(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock)
    await g.core.jobs.accept(request(1, channel_id=5))  # no list: anywhere
    await g.admin.add_channel(GUILD, CHANNEL, actor_id=99)
    with pytest.raises(InvalidRequest, match=f"<#{CHANNEL}>"):
        await g.core.jobs.accept(request(2, channel_id=5))
    await g.core.jobs.accept(request(2))
    thread = replace(request(3, channel_id=6), parent_channel_id=CHANNEL)
    await g.core.jobs.accept(thread)
    await g.admin.remove_channel(GUILD, CHANNEL, actor_id=99)
    await g.core.jobs.accept(request(4, channel_id=5))
    assert (await g.core.ledger.balance(GUILD, 2)).held == 80  # only the accepted one was held
