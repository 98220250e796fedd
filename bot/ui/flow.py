"""Starting a job from any interaction (/video, Reroll, Remix): the same checks, the same answer."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.domain.models import VideoSpec
from bot.errors import UserFacingError
from bot.services.credits import MemberContext
from bot.services.jobs import Accepted, JobRequest
from bot.ui import render

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)

# What the bot needs in a channel to post a video there. Checked before anything is charged.
_REQUIRED = {
    "send_messages": "Send Messages",
    "attach_files": "Attach Files",
    "embed_links": "Embed Links",
    "read_message_history": "Read Message History",
}


def member_context(user: discord.User | discord.Member) -> MemberContext:
    if isinstance(user, discord.Member):
        return MemberContext(
            member_id=user.id,
            role_ids=tuple(role.id for role in user.roles if not role.is_default()),
            joined_at=user.joined_at,
            account_created_at=user.created_at,
        )
    return MemberContext(member_id=user.id, account_created_at=user.created_at)


def check_bot_can_post(interaction: discord.Interaction) -> None:
    if interaction.guild is None:
        raise UserFacingError("Videos can only be made in a server channel, not in direct messages.")
    permissions = interaction.app_permissions
    in_thread = isinstance(interaction.channel, discord.Thread)
    missing = [label for name, label in _REQUIRED.items() if not getattr(permissions, name)]
    if in_thread and not permissions.send_messages_in_threads:
        missing.append("Send Messages in Threads")
    if in_thread and "Send Messages" in missing:
        missing.remove("Send Messages")
    if missing:
        raise UserFacingError(
            f"I can't post videos in this channel: I'm missing {', '.join(missing)}. "
            "Ask an admin to allow it, or use another channel. Nothing was charged."
        )


def job_request(interaction: discord.Interaction, spec: VideoSpec, parent_job_id: int | None = None) -> JobRequest:
    assert interaction.guild_id is not None and interaction.channel_id is not None
    return JobRequest(
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        member=member_context(interaction.user),
        spec=spec,
        parent_job_id=parent_job_id,
    )


async def send_ephemeral(interaction: discord.Interaction, content: str) -> None:
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=True)
    else:
        await interaction.response.send_message(content, ephemeral=True)


async def start_job(
    bot: WanBot, interaction: discord.Interaction, spec: VideoSpec, *, parent_job_id: int | None = None
) -> Accepted:
    """Check, hold and queue a job, answer the member privately, and open the public progress message."""
    check_bot_can_post(interaction)
    accepted = await bot.services.jobs.accept(job_request(interaction, spec, parent_job_id))
    await send_ephemeral(interaction, render.accepted_text(accepted))
    await open_progress_message(bot, interaction, accepted)
    return accepted


async def open_progress_message(bot: WanBot, interaction: discord.Interaction, accepted: Accepted) -> None:
    channel = interaction.channel
    if not isinstance(channel, discord.abc.Messageable):
        return
    try:
        message = await channel.send(render.progress_text(accepted.job, bot.clock()))
    except discord.HTTPException:
        # The job goes on; only the live progress display is lost.
        log.warning(
            "job progress message failed job=%d guild=%d member=%d",
            accepted.job.id,
            accepted.job.guild_id,
            accepted.job.member_id,
            exc_info=True,
        )
        return
    await bot.services.jobs.attach_progress_message(accepted.job.id, message.id)
