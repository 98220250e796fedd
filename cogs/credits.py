"""/credits: a member's balance, held credits, allowance, next refill and last entries."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain import discord_limits as limits
from bot.domain.models import LedgerKind
from bot.errors import NotPermitted
from bot.services.credits import CreditOverview
from bot.ui import render
from bot.ui.flow import member_context
from bot.ui.permissions import is_moderator
from bot.ui.store import buy_view

if TYPE_CHECKING:
    from bot.app import WanBot

_KIND_LABEL = {
    LedgerKind.GRANT: "grant",
    LedgerKind.REFILL: "refill",
    LedgerKind.HOLD: "held",
    LedgerKind.SETTLE: "spent",
    LedgerKind.RELEASE: "returned",
    LedgerKind.ADJUST: "adjustment",
    LedgerKind.PURCHASE: "purchase",
}
_SHOWS_REASON = (LedgerKind.GRANT, LedgerKind.PURCHASE)


def _entry_line(overview: CreditOverview, index: int) -> str:
    entry = overview.recent[index]
    sign = {LedgerKind.HOLD: "−", LedgerKind.SETTLE: "", LedgerKind.RELEASE: "+"}.get(
        entry.kind, "+" if entry.amount >= 0 else "−"
    )
    job = f" · job #{entry.job_id}" if entry.job_id else ""
    reason = f" · {render.prompt_inline(entry.reason, 60)}" if entry.reason and entry.kind in _SHOWS_REASON else ""
    return f"{render.timestamp(entry.created_at)} {_KIND_LABEL[entry.kind]} {sign}{abs(entry.amount)}{job}{reason}"


def allowance_source(source: str) -> str:
    """ "server default", or the role whose allowance applies, as a mention (roles never ping here)."""
    if source.startswith("role:"):
        return f"role <@&{source.removeprefix('role:')}>"
    return "server default"


def credits_embed(member: discord.abc.User, overview: CreditOverview) -> discord.Embed:
    allowance = overview.allowance
    embed = discord.Embed(title=f"Credits of {member.display_name}", colour=discord.Colour.blurple())
    embed.add_field(name="Available", value=str(overview.balance.available))
    embed.add_field(name="Held by running jobs", value=str(overview.balance.held))
    embed.add_field(name="Allowance", value=f"{render.allowance_text(allowance.amount, allowance.period)}")
    embed.add_field(name="Allowance from", value=allowance_source(allowance.source))
    if allowance.qualifies_at is not None:
        embed.add_field(name="Allowance starts", value=render.timestamp(allowance.qualifies_at, "F"))
        embed.add_field(
            name="Note",
            value=(
                "New accounts and new members get an allowance after a while; yours starts "
                f"{render.timestamp(allowance.qualifies_at)}. Grants from admins work before that."
            ),
            inline=False,
        )
    elif overview.next_refill is not None:
        embed.add_field(name="Next refill", value=render.timestamp(overview.next_refill, "F"))
    if allowance.note:
        embed.add_field(name="Note", value=allowance.note, inline=False)
    lines = [_entry_line(overview, index) for index in range(len(overview.recent))]
    embed.add_field(
        name="Last entries", value=limits.fit_lines(lines, limits.FIELD_VALUE, empty="Nothing yet."), inline=False
    )
    return render.fit_embed(embed)


class CreditsCog(commands.Cog):
    def __init__(self, bot: WanBot) -> None:
        self.bot = bot

    @app_commands.command(name="credits", description="Your credits: balance, held, allowance and next refill")
    @app_commands.guild_only()
    @app_commands.describe(member="Another member's credits (moderators only)")
    async def credits(self, interaction: discord.Interaction, member: discord.Member | None = None) -> None:
        assert interaction.guild_id is not None
        target = member or interaction.user
        if target.id != interaction.user.id and not is_moderator(interaction):
            raise NotPermitted("Only moderators can look at another member's credits.")
        overview = await self.bot.services.credits.overview(interaction.guild_id, member_context(target))
        embed = credits_embed(target, overview)
        view = buy_view(self.bot.services.store.sku_ids) if target.id == interaction.user.id else None
        if view is None:
            await interaction.response.send_message(embed=embed, ephemeral=True)
        else:
            await interaction.response.send_message(embed=embed, ephemeral=True, view=view)


async def setup(bot: WanBot) -> None:
    await bot.add_cog(CreditsCog(bot))
