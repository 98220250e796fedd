"""Credit packs from Discord's store: entitlements in, credits out, the Buy buttons."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.store._cog import StoreCog

if TYPE_CHECKING:
    from bot.app import WanBot


async def setup(bot: WanBot) -> None:
    await bot.add_cog(StoreCog(bot))
