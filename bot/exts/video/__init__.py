"""/video, the result's buttons (Reroll, Remix, Report, Delete, Cancel), progress and delivery."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.video._buttons import DYNAMIC_ITEMS
from bot.exts.video._cog import VideoCog

if TYPE_CHECKING:
    from bot.app import WanBot


async def setup(bot: WanBot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    await bot.add_cog(VideoCog(bot))
