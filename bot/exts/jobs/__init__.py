"""/jobs: recent and running jobs, and cancelling queued ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.jobs._cog import JobsCog

if TYPE_CHECKING:
    from bot.app import WanBot


async def setup(bot: WanBot) -> None:
    await bot.add_cog(JobsCog(bot))
