"""At start, finish what a crash interrupted in review mode: rejections whose member was never told."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from discord.ext import commands

from bot.exts.review._views import finish_interrupted_rejections

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)


class ReviewRecoveryCog(commands.Cog):
    def __init__(self, bot: WanBot) -> None:
        self.bot = bot
        self._done = False

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        # on_ready fires again after every reconnect; once per process is what is needed.
        if self._done:
            return
        self._done = True
        await finish_interrupted_rejections(self.bot)
