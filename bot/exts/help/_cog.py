"""/help: prices, the caller's balance, the commands they may use and what each button does. Private."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.models import Duration, Resolution
from bot.services.credits import CreditOverview
from bot.ui import render
from bot.ui.answers import member_context
from bot.ui.permissions import is_manager, is_moderator

if TYPE_CHECKING:
    from bot.app import WanBot

_DURATIONS: tuple[Duration, ...] = (5, 10, 15)
_RESOLUTIONS: tuple[Resolution, ...] = ("720p", "1080p")

MEMBER_COMMANDS = (
    ("/video prompt", "Make a video; add an image or a video (attached or an https link) to animate or transform it."),
    ("/credits", "Your balance, credits held by running jobs, allowance, next refill and one line per job."),
    ("/jobs [cancel]", "Your recent and running jobs; cancel a queued one (credits back at once)."),
    ("/help", "This page."),
)
MODERATOR_COMMANDS = (
    ("/wan-mod block · unblock", "Stop or let a member make videos here."),
    ("/wan-mod history · log", "A member's jobs; the moderation log."),
    ("/wan-mod refund job", "Give a delivered video's credits back (once per job)."),
    ("/wan-mod rules add · remove · list · test", "Blocked words and patterns for prompts."),
)
ADMIN_COMMANDS = (
    ("/wan-admin", "Allowances, grants, refill period, budget, channels, review mode, stats and export."),
)
BUTTONS = (
    ("🎲 Reroll", "The same settings again; you pay for it."),
    ("✏️ Remix", "Edit the prompt first, then make it; you pay for it."),
    ("🚩 Report", "Tells the moderators about the video."),
    ("🗑️ Delete", "Removes the video (its maker or a moderator)."),
    ("🚫 Cancel", "On /jobs: cancels a queued job; its credits come back."),
    ("Confirm / Cancel", "Shown before an expensive video: nothing is held until you confirm."),
)


def price_table(bot: WanBot) -> str:
    prices = bot.config.credits.prices
    head = "` " + "".ljust(6) + "".join(f"{seconds} s".rjust(7) for seconds in _DURATIONS) + " `"
    rows = [
        "` " + resolution.ljust(6) + "".join(str(prices.price(resolution, d)).rjust(7) for d in _DURATIONS) + " `"
        for resolution in _RESOLUTIONS
    ]
    return "\n".join([head, *rows])


def _listing(entries: tuple[tuple[str, str], ...]) -> str:
    return "\n".join(f"**{name}**: {what}" for name, what in entries)


def help_embed(bot: WanBot, interaction: discord.Interaction, overview: CreditOverview) -> discord.Embed:
    confirm_above = bot.config.credits.confirm_above
    embed = discord.Embed(
        title="Wan 2.6 videos: how it works",
        description=(
            "Credits are held when a job starts and kept only when the video is posted; a failure, "
            f"refusal, timeout or cancel returns them. Videos above {confirm_above} credits ask you to confirm first."
        ),
        colour=discord.Colour.blurple(),
    )
    embed.add_field(name="Prices (credits)", value=price_table(bot), inline=False)
    allowance = overview.allowance
    embed.add_field(
        name="Your credits",
        value=(
            f"{render.balance_line(overview.balance)}; allowance "
            f"{render.allowance_text(allowance.amount, allowance.period)}."
        ),
        inline=False,
    )
    commands_text = _listing(MEMBER_COMMANDS)
    if is_moderator(interaction):
        commands_text += "\n" + _listing(MODERATOR_COMMANDS)
    if is_manager(interaction):
        commands_text += "\n" + _listing(ADMIN_COMMANDS)
    embed.add_field(name="Commands you can use", value=commands_text, inline=False)
    embed.add_field(name="Buttons", value=_listing(BUTTONS), inline=False)
    return embed


class HelpCog(commands.Cog):
    def __init__(self, bot: WanBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="Prices, your balance, the commands and buttons")
    @app_commands.guild_only()
    async def help(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        overview = await self.bot.services.credits.overview(interaction.guild_id, member_context(interaction.user))
        await interaction.response.send_message(embed=help_embed(self.bot, interaction, overview), ephemeral=True)
