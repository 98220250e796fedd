"""/wan-mod: blocks, history, refunds, audit log, prompt rules, the Remove video menu, paged lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.moderation._cog import ModerationCog
from bot.exts.moderation._pages import PAGE_ITEMS

if TYPE_CHECKING:
    from bot.app import WanBot


async def setup(bot: WanBot) -> None:
    bot.add_dynamic_items(*PAGE_ITEMS)
    await bot.add_cog(ModerationCog(bot))
