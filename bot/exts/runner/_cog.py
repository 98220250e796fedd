"""The background loop that drives every job (the work itself is ``JobRunner.tick``)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from discord.ext import commands, tasks

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)

# On shutdown, let a tick in progress finish its provider calls and transactions this long.
_STOP_GRACE_SECONDS = 15.0


class RunnerCog(commands.Cog):
    def __init__(self, bot: WanBot) -> None:
        self.bot = bot
        self._tick: asyncio.Task[object] | None = None
        self.loop.change_interval(seconds=bot.config.loop.tick_seconds)

    async def cog_load(self) -> None:
        self.loop.start()

    async def cog_unload(self) -> None:
        # A tick in progress may be mid-create or mid-transaction: let it finish (bounded),
        # then cancel the loop, which is otherwise just sleeping until the next tick.
        tick = self._tick
        if tick is not None and not tick.done():
            try:
                await asyncio.wait_for(asyncio.shield(tick), timeout=_STOP_GRACE_SECONDS)
            except TimeoutError:
                log.warning("the job loop's last tick did not finish in %.0fs; cancelling it", _STOP_GRACE_SECONDS)
        # Steps a tick left running (a slow download or post) get the same grace.
        await self.bot.services.runner.wait_unfinished(_STOP_GRACE_SECONDS)
        self.loop.cancel()

    @tasks.loop(seconds=2)
    async def loop(self) -> None:
        # tick() catches and logs everything itself; a separate task keeps each tick cheap
        # under the simulated Discord used in tests.
        self._tick = asyncio.create_task(self.bot.services.runner.tick())
        await self._tick

    @loop.before_loop
    async def _wait_until_ready(self) -> None:
        await self.bot.wait_until_ready()

    @loop.error
    async def _loop_error(self, error: BaseException) -> None:
        # Unreachable by design (tick never raises); if it happens, log and keep going.
        log.exception("job loop iteration failed", exc_info=error)
        if not self.loop.is_running():
            self.loop.restart()
