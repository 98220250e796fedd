"""The background loop that drives every job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.runner._cog import RunnerCog

if TYPE_CHECKING:
    from bot.app import WanBot


async def setup(bot: WanBot) -> None:
    await bot.add_cog(RunnerCog(bot))
