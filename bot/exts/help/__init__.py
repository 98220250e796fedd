"""/help: prices, balance, commands and buttons. Private."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.help._cog import HelpCog

if TYPE_CHECKING:
    from bot.app import WanBot


async def setup(bot: WanBot) -> None:
    await bot.add_cog(HelpCog(bot))
