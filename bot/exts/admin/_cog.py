"""/wan-admin: allowances, grants, refill period, budget, channels, admin channel, stats, export,
review mode (the ``review`` subgroup from ``bot.exts.review._settings``) and the moderators' channel.

Discord hides the group from members without Manage Server (``default_permissions``), but a
server's admins can show it to anyone in Server Settings → Integrations, and Discord then lets
them run it. So every command checks Manage Server again here, from the permissions Discord
sends with the interaction, before it reads or changes anything.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain import discord_limits as limits
from bot.domain import markdown
from bot.errors import InvalidRequest
from bot.exts.review._settings import ReviewSettings
from bot.exts.store._views import purchases_text
from bot.services.admin import MAX_ALLOWANCE, MAX_BUDGET, ServerOverview
from bot.services.budget import BudgetStatus, period_phrase
from bot.services.credits import MAX_GRANT
from bot.services.stats import Stats
from bot.ui import render
from bot.ui.answers import member_context
from bot.ui.permissions import require_admin

if TYPE_CHECKING:
    from bot.app import WanBot

PeriodChoice = Literal["daily", "weekly", "monthly", "never"]


async def reply(interaction: discord.Interaction, content: str, *, file: discord.File | None = None) -> None:
    content = limits.truncate(content, limits.CONTENT)
    if file is None:
        await interaction.response.send_message(content, ephemeral=True)
    else:
        await interaction.response.send_message(content, ephemeral=True, file=file)


def budget_text(status: BudgetStatus) -> str:
    if not status.capped:
        return "no cap"
    resets = f", resets {render.timestamp(status.resets_at)}" if status.resets_at else ""
    return f"{status.spent:,} of {status.cap:,} credits spent {period_phrase(status.period)}{resets}"


def budget_report(status: BudgetStatus) -> str:
    """The cap and the operator's spend, with what members got back and the provider's figure apart."""
    if status.capped:
        head = budget_text(status)
    else:
        head = f"no cap; {status.spent:,} credits spent {period_phrase(status.period)}"
    parts = [head]
    if status.given_back:
        parts.append(f"{status.given_back:,} of them given back to members (refunds, videos that could not be posted)")
    if status.provider_charged is not None:
        parts.append(f"the provider reported {status.provider_charged:,} of its credits charged")
    return "; ".join(parts)


def overview_embed(overview: ServerOverview) -> discord.Embed:
    policy = overview.policy
    embed = discord.Embed(title="Video credits on this server", colour=discord.Colour.blurple())
    embed.add_field(
        name="Default allowance", value=render.allowance_text(policy.default_allowance, policy.refill_period)
    )
    embed.add_field(name="Refill period", value=policy.refill_period)
    roles = limits.fit_lines(
        [
            f"<@&{role_id}>: {amount}"
            for role_id, amount in sorted(policy.role_allowances.items(), key=lambda item: (-item[1], item[0]))
        ],
        limits.FIELD_VALUE,
    )
    embed.add_field(name="Role allowances (highest wins)", value=roles or "none", inline=False)
    farming = []
    if policy.min_account_age_days:
        farming.append(f"accounts older than {policy.min_account_age_days:g} days")
    if policy.min_membership_days:
        farming.append(f"members for {policy.min_membership_days:g} days")
    embed.add_field(name="Allowance only for", value=", ".join(farming) or "everyone", inline=False)
    embed.add_field(name="Budget", value=budget_text(overview.budget), inline=False)
    channels = limits.fit_lines([f"<#{channel_id}>" for channel_id in overview.channels], limits.FIELD_VALUE, sep=", ")
    embed.add_field(name="/video allowed in", value=channels or "every channel")
    admin_channel = f"<#{overview.admin_channel_id}>" if overview.admin_channel_id else "not set"
    embed.add_field(name="Admin channel", value=admin_channel)
    return render.fit_embed(embed)


def stats_text(stats: Stats) -> str:
    lines = [
        f"**Last {len(stats.days)} days** (UTC, since {stats.since:%Y-%m-%d}): **{stats.total:,}** credits spent "
        f"on **{stats.jobs}** videos: every render the provider account paid for, or may still pay for.",
        f"Of these, **{stats.given_back:,}** given back to members (refunds, videos that could not be posted).",
    ]
    if stats.provider_charged is not None:
        lines.append(f"The provider reported charging **{stats.provider_charged:,}** of its own credits for them.")
    if stats.top:
        lines.append("**Top members**")
        lines.extend(
            f"{rank}. <@{member.member_id}>: {member.credits:,} credits, {member.jobs} "
            f"video{'s' if member.jobs != 1 else ''}"
            for rank, member in enumerate(stats.top, start=1)
        )
    busy = [day for day in stats.days if day.credits]
    if busy:
        lines.append("**Per day**")
        lines.append("```")
        lines.extend(f"{day.day}  {day.credits:>7,}  {day.jobs:>3} jobs" for day in busy)
        lines.append("```")
    return render.truncate("\n".join(lines), 1900)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class AdminCog(commands.GroupCog, group_name="wan-admin", group_description="Credits, budget and channels (admins)"):
    allowance = app_commands.Group(name="allowance", description="Allowances: the default and per role")
    channels = app_commands.Group(name="channels", description="Channels where /video works")

    def __init__(self, bot: WanBot) -> None:
        self.bot = bot
        super().__init__()
        assert self.app_command is not None  # a GroupCog always has its group
        self.app_command.add_command(ReviewSettings())

    # --- moderation settings -------------------------------------------------------------------

    @app_commands.command(name="mod-channel", description="Where reports and provider refusals are announced")
    @app_commands.describe(channel="The moderators' channel; leave out to clear it")
    async def mod_channel(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        guild_id, actor_id = require_admin(interaction)
        await self.bot.services.moderation.set_mod_channel(
            guild_id, actor_id=actor_id, channel_id=channel.id if channel else None
        )
        where = channel.mention if channel else "the review channel (if one is set)"
        await reply(interaction, f"Reports and provider refusals now go to {where}.")

    # --- grants --------------------------------------------------------------------------------

    @app_commands.command(name="grant", description="Give a member one-off credits (negative to revoke)")
    @app_commands.describe(
        member="Who gets them", amount="Credits; negative takes back", reason="Shown in their /credits"
    )
    async def grant(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        amount: app_commands.Range[int, -MAX_GRANT, MAX_GRANT],
        reason: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        guild_id, actor_id = require_admin(interaction)
        balance = await self.bot.services.credits.grant(
            guild_id, member_context(member), amount, actor_id=actor_id, reason=reason
        )
        verb = f"Granted {amount}" if amount > 0 else f"Took back {-amount}"
        because = f" ({markdown.inline(reason)})" if reason else ""
        await reply(
            interaction, f"{verb} credits to {member.mention}{because}. They now have {render.balance_line(balance)}."
        )

    # --- allowances ----------------------------------------------------------------------------

    @allowance.command(name="set", description="Set the default allowance, or a role's allowance")
    @app_commands.describe(amount="Credits per refill period", role="Only for members with this role")
    async def allowance_set(
        self,
        interaction: discord.Interaction,
        amount: app_commands.Range[int, 0, MAX_ALLOWANCE],
        role: discord.Role | None = None,
    ) -> None:
        guild_id, actor_id = require_admin(interaction)
        admin = self.bot.services.admin
        if role is None or role.is_default():
            await admin.set_default_allowance(guild_id, amount, actor_id=actor_id)
            what = f"The default allowance is now {amount}"
        else:
            await admin.set_role_allowance(guild_id, role.id, amount, actor_id=actor_id)
            what = f"Members with {role.mention} now get {amount} (the highest of their roles wins)"
        await reply(interaction, f"{what}. It applies from each member's next refill.")

    @allowance.command(name="clear", description="Remove a role's allowance (its members get the default)")
    async def allowance_clear(self, interaction: discord.Interaction, role: discord.Role) -> None:
        guild_id, actor_id = require_admin(interaction)
        await self.bot.services.admin.clear_role_allowance(guild_id, role.id, actor_id=actor_id)
        await reply(
            interaction,
            f"{role.mention} has no allowance of its own now; from the next refill its members get the default.",
        )

    @allowance.command(name="show", description="This server's allowances, budget and channels")
    async def allowance_show(self, interaction: discord.Interaction) -> None:
        guild_id, _ = require_admin(interaction)
        overview = await self.bot.services.admin.overview(guild_id)
        await interaction.response.send_message(embed=overview_embed(overview), ephemeral=True)

    @app_commands.command(name="refill-period", description="How often members are topped up to their allowance")
    @app_commands.describe(period="daily, weekly or monthly at 00:00 UTC (weeks start Monday), or never")
    async def refill_period(self, interaction: discord.Interaction, period: PeriodChoice) -> None:
        guild_id, actor_id = require_admin(interaction)
        await self.bot.services.admin.set_refill_period(guild_id, period, actor_id=actor_id)
        await reply(
            interaction,
            f"Refills are now {period}. Each member is topped up the first time they use the bot in a new period.",
        )

    # --- budget --------------------------------------------------------------------------------

    @app_commands.command(name="budget", description="Cap the credits this server spends per period (0 removes it)")
    @app_commands.describe(
        amount="Credits per period; leave out to see the current spend", period="The window it counts over"
    )
    async def budget(
        self,
        interaction: discord.Interaction,
        amount: app_commands.Range[int, 0, MAX_BUDGET] | None = None,
        period: PeriodChoice | None = None,
    ) -> None:
        guild_id, actor_id = require_admin(interaction)
        admin = self.bot.services.admin
        if amount is None and period is not None:
            raise InvalidRequest("Give the amount too: the period is set together with the cap.")
        if amount is None:
            status = (await admin.overview(guild_id)).budget
            await reply(interaction, f"Budget: {budget_report(status)}.")
            return
        status = await admin.set_budget(guild_id, amount, period, actor_id=actor_id)
        head = "The budget cap is removed" if not status.capped else "Budget set"
        await reply(interaction, f"{head}: {budget_report(status)}.")

    # --- channels ------------------------------------------------------------------------------

    @channels.command(name="add", description="Allow /video in a channel (once any is listed, only there)")
    async def channels_add(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        guild_id, actor_id = require_admin(interaction)
        allowed = await self.bot.services.admin.add_channel(guild_id, channel.id, actor_id=actor_id)
        await reply(interaction, f"/video now works in {_channel_list(allowed)} (and their threads).")

    @channels.command(name="remove", description="Stop allowing /video in a channel")
    async def channels_remove(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        guild_id, actor_id = require_admin(interaction)
        allowed = await self.bot.services.admin.remove_channel(guild_id, channel.id, actor_id=actor_id)
        where = _channel_list(allowed) if allowed else "every channel again (the list is empty)"
        await reply(interaction, f"/video now works in {where}.")

    @channels.command(name="list", description="Channels where /video works")
    async def channels_list(self, interaction: discord.Interaction) -> None:
        guild_id, _ = require_admin(interaction)
        allowed = await self.bot.services.admin.allowed_channels(guild_id)
        where = _channel_list(allowed) if allowed else "every channel the bot can post in (no list set)"
        await reply(interaction, f"/video works in {where}.")

    @channels.command(name="resume", description="Take /video again in a channel paused after failed deliveries")
    @app_commands.describe(channel="The channel or thread (fix the bot's permissions there first)")
    async def channels_resume(
        self, interaction: discord.Interaction, channel: discord.TextChannel | discord.Thread
    ) -> None:
        guild_id, actor_id = require_admin(interaction)
        was_paused = await self.bot.services.channel_health.resume(guild_id, channel.id, actor_id=actor_id)
        note = "" if was_paused else " (it was not paused)"
        await reply(
            interaction,
            f"{channel.mention} takes videos again{note}. If the next videos cannot be posted there either, "
            "it is paused again after a few failures.",
        )

    @app_commands.command(
        name="admin-channel", description="Where the bot tells admins about budgets and provider problems"
    )
    @app_commands.describe(channel="Leave out to stop these messages")
    async def admin_channel(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        guild_id, actor_id = require_admin(interaction)
        await self.bot.services.admin.set_admin_channel(guild_id, channel.id if channel else None, actor_id=actor_id)
        if channel is None:
            await reply(interaction, "Admin messages are off. Budget and provider problems are only logged.")
            return
        note = ""
        me = interaction.guild.me if interaction.guild else None
        if me is not None and not channel.permissions_for(me).send_messages:
            note = " I can't send messages there yet: give me Send Messages in that channel."
        await reply(interaction, f"Admin messages go to {channel.mention}.{note}")

    @app_commands.command(name="public", description="Whether the provider may show this server's videos publicly")
    @app_commands.describe(state="on: wan26ai lists new videos in its public galleries; off (the default): it does not")
    async def public(self, interaction: discord.Interaction, state: Literal["on", "off"]) -> None:
        guild_id, actor_id = require_admin(interaction)
        await self.bot.services.admin.set_public_gallery(guild_id, state == "on", actor_id=actor_id)
        shown = "may appear" if state == "on" else "no longer appear"
        note = ""
        if self.bot.services.provider_info.name != "wan26ai":
            note = " (The provider in use has no public galleries, so this changes nothing until the bot uses wan26ai.)"
        await reply(interaction, f"New videos from this server {shown} in wan26ai's public galleries.{note}")

    # --- reports -------------------------------------------------------------------------------

    @app_commands.command(name="stats", description="Credits spent per day and top members, last 30 days (chart)")
    async def stats(self, interaction: discord.Interaction) -> None:
        guild_id, _ = require_admin(interaction)
        reports = self.bot.services.stats
        stats = await reports.stats(guild_id)
        chart = discord.File(io.BytesIO(reports.chart(stats)), filename="spend-30-days.png")
        text = stats_text(stats)
        if self.bot.services.store.enabled:
            text += "\n" + purchases_text(await self.bot.services.store.totals(guild_id, stats.since))
        await reply(interaction, text, file=chart)

    @app_commands.command(name="export", description="The server's credit ledger as a CSV file")
    async def export(self, interaction: discord.Interaction) -> None:
        guild_id, _ = require_admin(interaction)
        data = await self.bot.services.stats.ledger_csv(guild_id)
        limit = interaction.guild.filesize_limit if interaction.guild else 10 * 1_048_576
        if len(data) > limit:
            await reply(
                interaction,
                f"The ledger is {len(data) / 1_048_576:.1f} MB, more than this server's upload limit. "
                "Ask the bot's operator for a copy of the database instead.",
            )
            return
        day = self.bot.clock().strftime("%Y-%m-%d")
        file = discord.File(io.BytesIO(data), filename=f"ledger-{guild_id}-{day}.csv")
        rows = data.count(b"\n") - 1
        await reply(interaction, f"The credit ledger of this server: {rows} entries, oldest first.", file=file)


def _channel_list(channel_ids: list[int]) -> str:
    # Room is left for the sentence around the list: the whole reply stays under 2,000 characters.
    return limits.fit_lines([f"<#{channel_id}>" for channel_id in channel_ids], limits.CONTENT - 200, sep=", ")
