"""Shards across processes: ``[discord] shard_count`` (and ``shard_ids``) run an ``AutoShardedBot``.

Each process holds a range of the bot's shards; the gateway identifies of all processes are
spaced through the database (``bot.storage.identify``). Everything else already works whichever
process holds a guild's shard: results are posted over REST, jobs carry the server's upload
limit, and a completion callback may arrive at any process.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord.ext import commands

from bot.app import WanBot
from bot.config import Config
from bot.storage.identify import IdentifySlots

log = logging.getLogger(__name__)


class ShardedWanBot(WanBot, commands.AutoShardedBot):
    """The same bot over a range of shards (MRO: WanBot's behaviour, AutoShardedClient's gateway)."""

    def __init__(self, config: Config, **options: Any) -> None:
        discord_config = config.discord
        assert discord_config.shard_count is not None, "a sharded bot needs [discord] shard_count"
        super().__init__(config, shard_count=discord_config.shard_count, shard_ids=discord_config.shard_ids, **options)
        self.identify_slots: IdentifySlots | None = None

    async def _slots(self) -> IdentifySlots | None:
        if self.identify_slots is None and self.db is not None:
            try:
                limits = await self.fetch_session_start_limits()
                max_concurrency = limits.max_concurrency
            except (discord.HTTPException, KeyError, TypeError):
                # One bucket is always safe: it only spaces identifies more than needed.
                log.warning("could not read the gateway's max_concurrency; spacing every identify 5 s apart")
                max_concurrency = 1
            self.identify_slots = IdentifySlots(self.db, max_concurrency=max_concurrency)
        return self.identify_slots

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # Also the first identify of this process: another process may have identified a moment ago.
        slots = await self._slots()
        if slots is None:
            await super().before_identify_hook(shard_id, initial=initial)
            return
        await slots.wait_turn(shard_id)
        log.info("identifying shard %s (bucket %d)", shard_id, slots.bucket(shard_id))

    def discord_connected(self) -> bool:
        """Every shard this process runs is connected (one down means its servers are not served)."""
        if self.is_closed() or not self.is_ready() or not self.shards:
            return False
        return all(not shard.is_closed() for shard in self.shards.values())

    def shard_summary(self) -> dict[str, Any]:
        """For ``/healthz``: which shards this process runs and which are connected."""
        shards = {shard_id: not shard.is_closed() for shard_id, shard in self.shards.items()}
        return {
            "count": self.shard_count,
            "ids": list(self.config.discord.shard_ids or range(self.shard_count or 0)),
            "connected": sorted(shard_id for shard_id, up in shards.items() if up),
        }
