"""Gateway identify slots shared by every process of one bot through the database.

Discord lets a bot token start ``max_concurrency`` sessions per 5 seconds, one per bucket
(``shard_id % max_concurrency``). discord.py spaces the shards of one process; processes that
each run a range of shards must also space each other, or Discord refuses identifies and the
shards reconnect in a loop. A process reserves its bucket's next free slot under a lock (an
advisory lock on PostgreSQL, the one writer on SQLite) and then waits for it outside the
transaction, so no lock or connection is held while it waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot.storage.db import Database

#: Discord's window per identify bucket.
IDENTIFY_SPACING_SECONDS = 5.0


def identify_lock(bucket: int) -> tuple[object, ...]:
    return ("identify", bucket)


class IdentifySlots:
    """``await slots.wait_turn(shard_id)`` before each IDENTIFY."""

    def __init__(
        self,
        db: Database,
        *,
        max_concurrency: int = 1,
        spacing_seconds: float = IDENTIFY_SPACING_SECONDS,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.max_concurrency = max(1, max_concurrency)
        self.spacing_seconds = spacing_seconds
        # Wall-clock epoch seconds: processes on different hosts compare slots (NTP is enough).
        self.wall_clock = wall_clock
        self.sleep = sleep

    def bucket(self, shard_id: int | None) -> int:
        return (shard_id or 0) % self.max_concurrency

    async def reserve(self, shard_id: int | None) -> float:
        """The epoch second this shard may identify at; the slot after it is taken for the next one."""
        bucket = self.bucket(shard_id)
        async with self.db.transaction() as tx:
            await tx.lock(identify_lock(bucket))
            now = self.wall_clock()
            taken = await tx.fetchval("SELECT next_at FROM identify_slots WHERE bucket = ?", (bucket,))
            slot = max(now, float(taken)) if taken is not None else now
            await tx.execute(
                "INSERT INTO identify_slots (bucket, next_at) VALUES (?, ?)"
                " ON CONFLICT (bucket) DO UPDATE SET next_at = excluded.next_at",
                (bucket, slot + self.spacing_seconds),
            )
        return slot

    async def wait_turn(self, shard_id: int | None) -> float:
        slot = await self.reserve(shard_id)
        delay = slot - self.wall_clock()
        if delay > 0:
            await self.sleep(delay)
        return slot
