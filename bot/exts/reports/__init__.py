"""Reports and removals: the moderators' notice with its Remove and Dismiss buttons."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.reports._views import REPORT_ITEMS

if TYPE_CHECKING:
    from bot.app import WanBot


async def setup(bot: WanBot) -> None:
    bot.add_dynamic_items(*REPORT_ITEMS)
