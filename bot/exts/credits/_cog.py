"""/credits: a member's balance, held credits, allowance, next refill, and one line per recent job
or top-up with the arithmetic that leads to the balance."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain import discord_limits as limits
from bot.domain.models import LedgerEntry, LedgerKind
from bot.errors import NotPermitted
from bot.exts.store._views import buy_view
from bot.services.credits import CreditOverview
from bot.ui import render
from bot.ui.answers import member_context
from bot.ui.permissions import is_moderator

if TYPE_CHECKING:
    from bot.app import WanBot

# Entries read to build the lines: enough that the jobs shown carry their hold and its outcome.
_ENTRIES_READ = 40
_LINES_SHOWN = 10
_GAINS = (LedgerKind.GRANT, LedgerKind.REFILL, LedgerKind.ADJUST, LedgerKind.PURCHASE)
_SHOWS_REASON = (LedgerKind.GRANT, LedgerKind.PURCHASE)


@dataclass
class _Line:
    """One line of /credits: a job (its hold and what became of it) or one top-up."""

    at: datetime
    text: str
    order: int  # the ledger id of its first entry (a job's hold): newest first by it
    gain: int = 0  # refills, grants, refunds, revokes (signed)
    kept: int = 0  # a delivered video's price
    held: int = 0  # a running job's price


def _job_line(job_id: int, entries: list[LedgerEntry]) -> _Line | None:
    kinds = {entry.kind: entry for entry in entries}
    hold = kinds.get(LedgerKind.HOLD)
    if hold is None:
        return None  # its hold is older than the entries read: left out so the sum stays right
    price = abs(hold.amount)
    line = _Line(at=hold.created_at, text="", order=hold.id)
    if LedgerKind.SETTLE in kinds:
        outcome, line.kept = "kept (video posted)", price
    elif LedgerKind.RELEASE in kinds:
        outcome = "returned (no video)"
    else:
        outcome, line.held = "held (running)", price
    refund = sum(entry.amount for entry in entries if entry.kind is LedgerKind.ADJUST)
    if refund:
        outcome += f", refunded {'+' if refund > 0 else '−'}{abs(refund)}"
        line.gain = refund
    line.text = f"{render.timestamp(hold.created_at)} **job #{job_id}** · {price} credits · {outcome}"
    return line


def _other_line(entry: LedgerEntry) -> _Line:
    label = {LedgerKind.GRANT: "grant", LedgerKind.REFILL: "refill", LedgerKind.ADJUST: "adjustment"}.get(
        entry.kind, entry.kind.value
    )
    sign = "+" if entry.amount >= 0 else "−"
    reason = f" · {render.prompt_inline(entry.reason, 60)}" if entry.reason and entry.kind in _SHOWS_REASON else ""
    text = f"{render.timestamp(entry.created_at)} {label} {sign}{abs(entry.amount)}{reason}"
    return _Line(at=entry.created_at, text=text, order=entry.id, gain=entry.amount if entry.kind in _GAINS else 0)


def ledger_lines(entries: list[LedgerEntry], limit: int = _LINES_SHOWN) -> list[_Line]:
    """Newest first: one line per job instead of a hold row and a settle or release row."""
    by_job: dict[int, list[LedgerEntry]] = defaultdict(list)
    lines: list[_Line] = []
    for entry in entries:
        if entry.job_id is not None:
            by_job[entry.job_id].append(entry)
        else:
            lines.append(_other_line(entry))
    for job_id, job_entries in by_job.items():
        line = _job_line(job_id, job_entries)
        if line is not None:
            lines.append(line)
    lines.sort(key=lambda line: line.order, reverse=True)
    return lines[:limit]


def arithmetic(available: int, lines: list[_Line]) -> str:
    """How the lines shown lead to the balance, in the order a member would add it up."""
    gains = sum(line.gain for line in lines)
    kept = sum(line.kept for line in lines)
    held = sum(line.held for line in lines)
    before = available - gains + kept + held
    parts = [f"**{before}** before these"]
    if gains:
        parts.append(f"{'+' if gains >= 0 else '−'} **{abs(gains)}** refills and grants")
    if kept:
        parts.append(f"− **{kept}** kept for posted videos")
    if held:
        parts.append(f"− **{held}** held by running jobs")
    return " ".join(parts) + f" = **{available}** available. Returned jobs cost nothing."


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
    lines = ledger_lines(overview.recent)
    shown = limits.fit_lines([line.text for line in lines], limits.FIELD_VALUE, empty="Nothing yet.")
    embed.add_field(name="Last entries", value=shown, inline=False)
    if lines:
        embed.add_field(name="How it adds up", value=arithmetic(overview.balance.available, lines), inline=False)
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
        overview = await self.bot.services.credits.overview(
            interaction.guild_id, member_context(target), entries=_ENTRIES_READ
        )
        embed = credits_embed(target, overview)
        view = buy_view(self.bot.services.store.sku_ids) if target.id == interaction.user.id else None
        if view is None:
            await interaction.response.send_message(embed=embed, ephemeral=True)
        else:
            await interaction.response.send_message(embed=embed, ephemeral=True, view=view)
