"""Starting a job from any interaction (/video, Reroll, Remix): the same checks, the same answer."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.domain.models import VideoSpec
from bot.errors import UserFacingError
from bot.exts.video._progress import progress_text
from bot.services.jobs import Accepted, JobRequest
from bot.ui import render
from bot.ui.answers import check_bot_can_post, is_deferred, member_context, send_ephemeral, within_deadline
from bot.ui.errors import report_error

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)

# How long a Confirm prompt waits for a press. Well under the 15 minutes an interaction token lives,
# so the expired prompt can still be edited to say so.
CONFIRM_TIMEOUT_SECONDS = 120.0


def job_request(interaction: discord.Interaction, spec: VideoSpec, parent_job_id: int | None = None) -> JobRequest:
    assert interaction.guild_id is not None and interaction.channel_id is not None
    channel = interaction.channel
    return JobRequest(
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        member=member_context(interaction.user),
        spec=spec,
        parent_job_id=parent_job_id,
        parent_channel_id=channel.parent_id if isinstance(channel, discord.Thread) else None,
        interaction_id=interaction.id,
        upload_limit_bytes=upload_limit(interaction),
    )


def upload_limit(interaction: discord.Interaction) -> int:
    """The server's upload limit, recorded on the job: the process that delivers it may not have
    this server in its cache (another shard range) and would see discord.py's unboosted default.
    The accepting process holds the server's shard, so its cache knows the boost level; without
    it, the limit Discord put on the interaction."""
    guild = interaction.guild
    if guild is not None and not guild.unavailable and interaction.client.get_guild(guild.id) is not None:
        return guild.filesize_limit
    return interaction.filesize_limit


async def start_job(
    bot: WanBot,
    interaction: discord.Interaction,
    spec: VideoSpec,
    *,
    parent_job_id: int | None = None,
    source: discord.Message | None = None,
) -> Accepted | None:
    """Check, hold and queue a job, answer the member privately, and open the public progress message.

    A job that needs confirmation (``JobService.needs_confirmation``) is only quoted here: the member gets a private
    Confirm/Cancel prompt with the price and the balance after it, and nothing is held until they
    press Confirm (then every check runs again, atomically with the hold). Returns None then.
    """
    await within_deadline(interaction, check_bot_can_post(interaction))
    request = job_request(interaction, spec, parent_job_id)
    jobs = bot.services.jobs
    if jobs.needs_confirmation(spec):
        quote = await within_deadline(interaction, jobs.quote(request))
        view = ConfirmView(bot, spec, parent_job_id=parent_job_id, owner_id=interaction.user.id, source=source)
        await send_ephemeral(interaction, render.confirm_text(spec, quote), view=view)
        view.prompt = interaction
        return None
    accepted = await within_deadline(interaction, jobs.accept(request))
    await _record_source(bot, accepted, source)
    await send_ephemeral(interaction, render.accepted_text(accepted))
    await open_progress_message(bot, interaction, accepted)
    return accepted


async def _record_source(bot: WanBot, accepted: Accepted, source: discord.Message | None) -> None:
    """The message a context-menu job came from, so its result can link to it (minutes later)."""
    if source is not None and source.guild is not None:
        await bot.services.sources.record(accepted.job.id, source.guild.id, source.channel.id, source.id)


class ConfirmView(discord.ui.View):
    """The private "pay this much?" prompt. Not persistent: after a restart or the timeout it is
    simply gone, and nothing was ever held for it."""

    def __init__(
        self,
        bot: WanBot,
        spec: VideoSpec,
        *,
        parent_job_id: int | None,
        owner_id: int,
        source: discord.Message | None = None,
    ) -> None:
        super().__init__(timeout=CONFIRM_TIMEOUT_SECONDS)
        self.source = source
        self.bot = bot
        self.spec = spec
        self.parent_job_id = parent_job_id
        self.owner_id = owner_id
        self.prompt: discord.Interaction | None = None
        self.decided = False

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # The prompt is ephemeral, so only its owner sees it; this keeps it that way for any client.
        return interaction.user.id == self.owner_id

    def _decide(self) -> bool:
        """True for the first press only: a double click never holds twice."""
        if self.decided:
            return False
        self.decided = True
        self.stop()
        return True

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.success, emoji="✅")
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button[ConfirmView]) -> None:
        if not self._decide():
            return
        try:
            await within_deadline(interaction, check_bot_can_post(interaction), update=True)
            # Built from the press, not the prompt: roles and permissions as they are now.
            request = job_request(interaction, self.spec, self.parent_job_id)
            accepted = await within_deadline(interaction, self.bot.services.jobs.accept(request), update=True)
        except UserFacingError as error:
            await self._answer(interaction, error.message)
            return
        except Exception as error:
            await report_error(interaction, error)
            return
        await _record_source(self.bot, accepted, self.source)
        await self._answer(interaction, render.accepted_text(accepted))
        await open_progress_message(self.bot, interaction, accepted)

    @staticmethod
    async def _answer(interaction: discord.Interaction, content: str) -> None:
        """Replace the prompt with the outcome (directly, or after a deferred update)."""
        if is_deferred(interaction):
            await interaction.edit_original_response(content=content, view=None)
        else:
            await interaction.response.edit_message(content=content, view=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button[ConfirmView]) -> None:
        if not self._decide():
            return
        await interaction.response.edit_message(content="Cancelled. Nothing was charged.", view=None)

    async def on_timeout(self) -> None:
        if self.decided or self.prompt is None:
            return
        self.decided = True
        minutes = round(CONFIRM_TIMEOUT_SECONDS / 60)
        try:
            await self.prompt.edit_original_response(
                content=f"Not confirmed within {minutes} minutes, so nothing was charged. Start it again "
                "when you are ready.",
                view=None,
            )
        except discord.HTTPException:
            log.debug("could not mark a confirm prompt as expired", exc_info=True)


async def open_progress_message(bot: WanBot, interaction: discord.Interaction, accepted: Accepted) -> None:
    channel = interaction.channel
    if not isinstance(channel, discord.abc.Messageable):
        return
    try:
        message = await channel.send(progress_text(accepted.job, bot.clock()))
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
