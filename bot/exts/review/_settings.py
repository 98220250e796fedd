"""/wan-admin review …: the admins' review-mode settings.

Not an extension of its own: ``bot.exts.admin`` attaches this subgroup to the one ``/wan-admin``
group (default permission Manage Server, checked again server-side by ``require_admin``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.ui import modrender
from bot.ui.answers import send_ephemeral
from bot.ui.channels import bot_permissions_in, cannot_post_reason
from bot.ui.context import bot_of
from bot.ui.permissions import require_admin

if TYPE_CHECKING:
    pass


async def _unusable_review_channel(interaction: discord.Interaction, chosen: discord.TextChannel | None) -> str | None:
    """Why the review channel (the chosen one, or the one set before) cannot take videos, or None."""
    bot = bot_of(interaction)
    channel_id = (
        chosen.id if chosen else (await bot.services.moderation.settings(interaction.guild_id or 0)).review_channel_id
    )
    if channel_id is None:
        return None  # the settings refuse "on" without any channel themselves
    channel = interaction.guild.get_channel(channel_id) if interaction.guild else None
    if channel is None:
        return f"The review channel <#{channel_id}> is gone, or I cannot see it: choose one with `channel:`."
    permissions = bot_permissions_in(channel)
    reason = None if permissions is None else await cannot_post_reason(bot, channel, permissions, for_member=False)
    if reason is None:
        return None
    return f"I can't post videos for review in {channel.mention}: {reason} Give me that, or choose another channel."


class ReviewSettings(app_commands.Group):
    """Review mode: finished videos wait in a review channel for a moderator's Approve or Reject."""

    def __init__(self) -> None:
        super().__init__(name="review", description="Review finished videos before they are posted")

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        require_admin(interaction)
        return True

    @app_commands.command(name="on", description="Send finished videos to a review channel first")
    @app_commands.describe(
        channel="Where videos wait for a moderator (default: the one set before)",
        refund_on_reject="Give the credits back when a video is rejected (default: no, the render was paid)",
    )
    async def on(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | None = None,
        refund_on_reject: bool | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        problem = await _unusable_review_channel(interaction, channel)
        if problem is not None:
            await send_ephemeral(interaction, f"{problem} Review mode was not changed.")
            return
        settings = await bot_of(interaction).services.moderation.set_review(
            interaction.guild_id,
            actor_id=interaction.user.id,
            enabled=True,
            channel_id=channel.id if channel else None,
            refund_on_reject=refund_on_reject,
        )
        refunds = "returned" if settings.refund_on_reject else "kept (the render was paid)"
        await send_ephemeral(
            interaction,
            f"Review mode is on: finished videos go to <#{settings.review_channel_id}> first, where moderators "
            f"approve or reject them. Credits of rejected videos are {refunds}.",
        )

    @app_commands.command(name="off", description="Post finished videos directly again")
    async def off(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await bot_of(interaction).services.moderation.set_review(
            interaction.guild_id, actor_id=interaction.user.id, enabled=False, channel_id=None, refund_on_reject=None
        )
        await send_ephemeral(
            interaction, "Review mode is off: videos are posted directly. Videos already waiting can still be decided."
        )

    @app_commands.command(name="status", description="The moderation settings and how many videos wait for review")
    async def status(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        bot = bot_of(interaction)
        settings = await bot.services.moderation.settings(interaction.guild_id)
        pending = await bot.services.reviews.pending_count(interaction.guild_id)
        await interaction.response.send_message(embed=modrender.settings_embed(settings, pending), ephemeral=True)
