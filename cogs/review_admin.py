"""/wan-admin review … and /wan-admin mod-channel: the admins' moderation settings.

The product puts review settings under ``/wan-admin`` (default permission Manage Server, checked
again server-side). This branch has no other ``/wan-admin`` commands, so it defines the group;
the ``review`` subgroup is its own class so it can be attached to a fuller ``/wan-admin`` group
with ``add_command`` when there is one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.ui import modrender
from bot.ui.flow import send_ephemeral
from bot.ui.permissions import require_manager

if TYPE_CHECKING:
    from bot.app import WanBot


def _bot(interaction: discord.Interaction) -> WanBot:
    return cast("WanBot", interaction.client)


class ReviewSettings(app_commands.Group):
    """Review mode: finished videos wait in a review channel for a moderator's Approve or Reject."""

    def __init__(self) -> None:
        super().__init__(name="review", description="Review finished videos before they are posted")

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        require_manager(interaction)
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
        settings = await _bot(interaction).services.moderation.set_review(
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
        await _bot(interaction).services.moderation.set_review(
            interaction.guild_id, actor_id=interaction.user.id, enabled=False, channel_id=None, refund_on_reject=None
        )
        await send_ephemeral(
            interaction, "Review mode is off: videos are posted directly. Videos already waiting can still be decided."
        )

    @app_commands.command(name="status", description="The moderation settings and how many videos wait for review")
    async def status(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        bot = _bot(interaction)
        settings = await bot.services.moderation.settings(interaction.guild_id)
        pending = await bot.services.reviews.reviews.pending_count(interaction.guild_id)
        await interaction.response.send_message(embed=modrender.settings_embed(settings, pending), ephemeral=True)


class ReviewAdminCog(commands.Cog):
    wan_admin = app_commands.Group(
        name="wan-admin",
        description="Server settings for the video bot",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    def __init__(self, bot: WanBot) -> None:
        self.bot = bot
        self.wan_admin.add_command(ReviewSettings())

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        require_manager(interaction)
        return True

    @wan_admin.command(name="mod-channel", description="Where reports and provider refusals are announced")
    @app_commands.describe(channel="The moderators' channel; leave out to clear it")
    async def mod_channel(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        assert interaction.guild_id is not None
        await self.bot.services.moderation.set_mod_channel(
            interaction.guild_id, actor_id=interaction.user.id, channel_id=channel.id if channel else None
        )
        where = channel.mention if channel else "the review channel (if one is set)"
        await send_ephemeral(interaction, f"Reports and provider refusals now go to {where}.")


async def setup(bot: WanBot) -> None:
    await bot.add_cog(ReviewAdminCog(bot))
