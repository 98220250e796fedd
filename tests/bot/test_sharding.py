"""Two bot processes, each running half of the shards, share one database for identify pacing.

The bots are real ``ShardedWanBot`` objects (not connected: the hook is what the gateway code
calls before each IDENTIFY); each has its own database connection, as two processes would.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from bot.assemble import create_bot
from bot.config import Config
from bot.sharding import ShardedWanBot
from bot.storage.db import Database
from bot.storage.identify import IdentifySlots
from tests.backends import Backend


class SharedClock:
    """Wall time both "processes" read. It stands still; each identify happens at that time plus
    what its own task waited (recorded per task), so concurrent waits do not blur each other."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.waits: list[float] = []
        self._waited: dict[asyncio.Task[object] | None, float] = defaultdict(float)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self._waited[asyncio.current_task()] += seconds

    def identified_at(self) -> float:
        return self.now + self._waited.pop(asyncio.current_task(), 0.0)


def _sharded(shard_ids: list[int]) -> Config:
    return Config.model_validate({"discord": {"shard_count": 4, "shard_ids": shard_ids}})


@pytest_asyncio.fixture
async def two_processes(
    tmp_path: Path, backend: Backend
) -> AsyncIterator[tuple[ShardedWanBot, ShardedWanBot, SharedClock]]:
    clock = SharedClock()
    bots: list[ShardedWanBot] = []
    for shard_ids in ([0, 1], [2, 3]):
        bot = create_bot(_sharded(shard_ids))
        assert isinstance(bot, ShardedWanBot)
        bot.db = await Database.open(backend.target(tmp_path))
        # max_concurrency 2: buckets {0, 2} and {1, 3}, one in each process.
        bot.identify_slots = IdentifySlots(bot.db, max_concurrency=2, wall_clock=clock, sleep=clock.sleep)
        bots.append(bot)
    try:
        yield bots[0], bots[1], clock
    finally:
        for bot in bots:
            assert bot.db is not None
            await bot.db.close()


def test_a_shard_range_in_config_makes_an_auto_sharded_bot() -> None:
    bot = create_bot(_sharded([2, 3]))
    assert isinstance(bot, ShardedWanBot)
    assert bot.shard_ids == [2, 3]
    assert bot.shard_count == 4
    assert not isinstance(create_bot(Config()), ShardedWanBot)
    # /healthz before the gateway connects: the range, none of it up yet.
    assert bot.shard_summary() == {"count": 4, "ids": [2, 3], "connected": []}


async def test_identifies_in_one_bucket_are_5_seconds_apart_across_processes(two_processes) -> None:  # type: ignore[no-untyped-def]
    first, second, clock = two_processes
    identified: dict[int, list[float]] = defaultdict(list)

    async def identify(bot: ShardedWanBot, shard_id: int) -> None:
        await bot.before_identify_hook(shard_id, initial=shard_id == bot.shard_ids[0])
        identified[shard_id % 2].append(clock.identified_at())

    # Each process starts its shards one after another, both at the same moment, then shard 0
    # reconnects: every identify in a bucket waits for the previous one in any process.
    await asyncio.gather(identify(first, 0), identify(second, 2))
    await identify(first, 1)
    await identify(second, 3)
    await identify(first, 0)
    for bucket, times in identified.items():
        times.sort()
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(gap >= 5.0 for gap in gaps), (bucket, times)
    assert len(identified[0]) == 3 and len(identified[1]) == 2
    # The two first identifies in bucket 0 came at once: exactly one of them waited.
    assert identified[0][:2] == [clock.now, clock.now + 5.0]


async def test_different_buckets_do_not_wait_for_each_other(two_processes) -> None:  # type: ignore[no-untyped-def]
    first, second, clock = two_processes
    await first.before_identify_hook(0, initial=True)
    await second.before_identify_hook(3, initial=True)
    assert clock.waits == []
