"""/wan-admin: allowances, grants, budget, channels, stats, export."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.admin._cog import AdminCog

if TYPE_CHECKING:
    from bot.app import WanBot


async def setup(bot: WanBot) -> None:
    await bot.add_cog(AdminCog(bot))
