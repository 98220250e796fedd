"""Paged moderator lists (the audit log, a member's history) with Previous / Next buttons.

The page lives in the button's custom_id (``wan:page:<list>:<member or 0>:<page>``), so paging
works on any such message, after any restart, with nothing kept in memory.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal, cast

import discord

from bot.ui import custom_ids, modrender
from bot.ui.items import CheckedButton

if TYPE_CHECKING:
    from bot.app import WanBot

Button = discord.ui.Button[discord.ui.View]
ListKind = Literal["log", "hist"]


async def log_message(
    bot: WanBot, guild_id: int, page: int, member_id: int | None = None
) -> tuple[discord.Embed, discord.ui.View | None]:
    result = await bot.services.moderation.audit_page(guild_id, page, member_id=member_id)
    if page > result.pages:  # the list shrank or the page is past the end: show the last one
        result = await bot.services.moderation.audit_page(guild_id, result.pages, member_id=member_id)
    return modrender.audit_embed(result, member_id), _pager("log", member_id or 0, result.page, result.pages)


async def history_message(
    bot: WanBot, guild_id: int, member_id: int, page: int
) -> tuple[discord.Embed, discord.ui.View | None]:
    result = await bot.services.moderation.history(guild_id, member_id, page)
    if page > result.pages:
        result = await bot.services.moderation.history(guild_id, member_id, result.pages)
    blocked = await bot.services.moderation.block_of(guild_id, member_id) is not None
    return modrender.history_embed(member_id, result, blocked), _pager("hist", member_id, result.page, result.pages)


def _pager(kind: ListKind, member_id: int, page: int, pages: int) -> discord.ui.View | None:
    if pages <= 1:
        return None
    view = discord.ui.View(timeout=None)
    if page > 1:
        view.add_item(PageButton(kind, member_id, page - 1, "◀ Newer"))
    if page < pages:
        view.add_item(PageButton(kind, member_id, page + 1, "Older ▶"))
    return view


class PageButton(CheckedButton, template=custom_ids.PAGE_TEMPLATE):
    moderators_only = True

    def __init__(self, kind: ListKind, member_id: int, page: int, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(label=label or f"Page {page}", custom_id=custom_ids.page(kind, member_id, page))
        )
        self.kind: ListKind = kind
        self.member_id = member_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PageButton:
        kind = cast(ListKind, match["kind"])
        return cls(kind, int(match["member"]), int(match["page"]))

    async def run(self, interaction: discord.Interaction, bot: WanBot) -> None:
        assert interaction.guild_id is not None
        if self.kind == "log":
            embed, view = await log_message(bot, interaction.guild_id, self.page, self.member_id or None)
        else:
            embed, view = await history_message(bot, interaction.guild_id, self.member_id, self.page)
        await interaction.response.edit_message(embed=embed, view=view)


PAGE_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (PageButton,)
