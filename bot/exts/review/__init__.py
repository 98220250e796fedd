"""Review mode: Approve / Reject buttons, publishing, the admins' settings, recovery after a crash."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.exts.review._recovery import ReviewRecoveryCog
from bot.exts.review._views import REVIEW_ITEMS

if TYPE_CHECKING:
    from bot.app import WanBot


async def setup(bot: WanBot) -> None:
    bot.add_dynamic_items(*REVIEW_ITEMS)
    await bot.add_cog(ReviewRecoveryCog(bot))
