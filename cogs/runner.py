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
        self.loop.change_interval(seconds=bot.config.loop.tick_seconds)

    async def cog_load(self) -> None:
        self.loop.start()

    async def cog_unload(self) -> None:
        # stop() lets the current tick end cleanly (no half-sent create); cancel only if it hangs.
        self.loop.stop()
        task = self.loop.get_task()
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=_STOP_GRACE_SECONDS)
            except (TimeoutError, asyncio.CancelledError):
                self.loop.cancel()

    @tasks.loop(seconds=2)
    async def loop(self) -> None:
        # tick() catches and logs everything itself; a separate task keeps each tick cheap
        # under the simulated Discord used in tests.
        await asyncio.create_task(self.bot.services.runner.tick())

    @loop.before_loop
    async def _wait_until_ready(self) -> None:
        await self.bot.wait_until_ready()

    @loop.error
    async def _loop_error(self, error: BaseException) -> None:
        # Unreachable by design (tick never raises); if it happens, log and keep going.
        log.exception("job loop iteration failed", exc_info=error)
        if not self.loop.is_running():
            self.loop.restart()


async def setup(bot: WanBot) -> None:
    await bot.add_cog(RunnerCog(bot))
