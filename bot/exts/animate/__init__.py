"""The "Animate with Wan" and "Transform with Wan" message menus."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.animate._cog import AnimateCog

if TYPE_CHECKING:
    from bot.app import WanBot


async def setup(bot: WanBot) -> None:
    await bot.add_cog(AnimateCog(bot))
