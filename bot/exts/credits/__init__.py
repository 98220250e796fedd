"""/credits: balance, allowance, refills and one line per recent job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.credits._cog import CreditsCog

if TYPE_CHECKING:
    from bot.app import WanBot


async def setup(bot: WanBot) -> None:
    await bot.add_cog(CreditsCog(bot))
