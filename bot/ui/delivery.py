"""Delivery to Discord: the one adapter that knows both the job runner and discord.py.

Everything is sent with the bot token into the job's channel, never through the member's
interaction token (it dies after 15 minutes, and renders take minutes).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import discord

from bot.domain.models import Job, JobState
from bot.services.events import Delivered, DeliveryError
from bot.services.fetch import FetchFailed, ResultTooLarge
from bot.ui import render
from bot.ui.buttons import result_view

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)

# How many messages to look through, newest first, for a result or a notice posted just before a crash.
# Newest first, because that post was the bot's last act for the job: in a busy channel the
# messages between the render's end and the post can outnumber any small window read from the
# render's end forward (Discord answers ``after=`` with the messages right after it), and the
# result would be posted twice. The scan stops at the render's end; the cap bounds the cost
# to ten history pages.
_HISTORY_SCAN_LIMIT = 1000
_MiB = 1_048_576


def owner_only(member_id: int) -> discord.AllowedMentions:
    """Ping the job's owner and nobody else, whatever the prompt says."""
    return discord.AllowedMentions(everyone=False, roles=False, replied_user=False, users=[discord.Object(member_id)])


def _as_delivery_error(error: discord.HTTPException, what: str) -> DeliveryError:
    if isinstance(error, discord.Forbidden | discord.NotFound):
        return DeliveryError(f"{what}: {error.status} {error.text or ''}".strip(), transient=False)
    # 429 is handled inside discord.py; what reaches here is 5xx or an odd 4xx.
    return DeliveryError(f"{what}: HTTP {error.status}", transient=error.status >= 500)


class DiscordJobEvents:
    def __init__(self, bot: WanBot) -> None:
        self.bot = bot

    async def _channel(self, job: Job) -> discord.abc.Messageable:
        channel = self.bot.get_channel(job.channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(job.channel_id)
            except discord.HTTPException as error:
                raise _as_delivery_error(error, "channel lookup") from None
        if not isinstance(channel, discord.abc.Messageable):
            raise DeliveryError(f"channel {job.channel_id} cannot hold messages", transient=False)
        return channel

    def _upload_limit(self, channel: discord.abc.Messageable) -> int:
        configured = self.bot.config.delivery.max_download_mb * _MiB
        guild = getattr(channel, "guild", None)
        # SimCord does not enforce upload limits and neither does the API until it rejects: check here.
        limit = guild.filesize_limit if guild is not None else 10 * _MiB
        return min(configured, limit)

    async def progress(self, job: Job) -> None:
        if job.progress_message_id is None:
            return
        channel = await self._channel(job)
        message = channel.get_partial_message(job.progress_message_id)  # type: ignore[attr-defined]
        await message.edit(content=render.progress_text(job, self.bot.clock()))

    async def deliver(self, job: Job) -> Delivered:
        if not job.result_url:
            raise DeliveryError("no result url", transient=False)
        channel = await self._channel(job)
        view = result_view(job)
        with tempfile.TemporaryDirectory(prefix="wanbot-") as folder:
            try:
                fetched = await self.bot.services.fetcher.fetch(
                    job.result_url, max_bytes=self._upload_limit(channel), dest_dir=Path(folder)
                )
            except ResultTooLarge:
                return await self._post_link(channel, job, view)
            except FetchFailed as error:
                raise DeliveryError(f"download: {error}", transient=error.transient) from None
            try:
                message = await channel.send(
                    content=render.result_text(job),
                    embed=render.result_embed(job),
                    file=discord.File(fetched.path, filename=fetched.filename),
                    view=view,
                    allowed_mentions=owner_only(job.member_id),
                )
            except discord.HTTPException as error:
                if error.status == 413:
                    return await self._post_link(channel, job, view)
                raise _as_delivery_error(error, "post result") from None
        return Delivered(message_id=message.id, as_link=False)

    async def _post_link(self, channel: discord.abc.Messageable, job: Job, view: discord.ui.View) -> Delivered:
        link = job.result_url
        if not link or job.is_sandbox:
            raise DeliveryError("result too large and has no public link", transient=False)
        try:
            message = await channel.send(
                content=render.result_text(job, link=link),
                embed=render.result_embed(job, link=link),
                view=view,
                allowed_mentions=owner_only(job.member_id),
            )
        except discord.HTTPException as error:
            raise _as_delivery_error(error, "post link") from None
        return Delivered(message_id=message.id, as_link=True)

    async def find_delivery(self, job: Job) -> int | None:
        marker = f"wan:reroll:{job.id}"

        def is_result(message: discord.Message) -> bool:
            return any(
                getattr(component, "custom_id", None) == marker
                for row in message.components
                for component in getattr(row, "children", ())
            )

        found = await self._find_own_message(job, is_result, "history scan")
        if found is not None:
            log.info("job=%d was already posted as message %d; not posting again", job.id, found)
        return found

    async def find_notice(self, job: Job) -> int | None:
        if job.state is JobState.CANCELLED:
            return None  # no notice is ever posted for a cancel (see ``ended``)
        text = render.ended_notice(job)
        return await self._find_own_message(job, lambda message: message.content == text, "notice scan")

    async def _find_own_message(self, job: Job, matches: Callable[[discord.Message], bool], what: str) -> int | None:
        """The newest message of the bot's since the job ended that ``matches``, if any."""
        channel = await self._channel(job)
        me = self.bot.user
        since = (job.finished_at or job.accepted_at) - timedelta(minutes=1)
        scanned = 0
        try:
            async for message in channel.history(limit=_HISTORY_SCAN_LIMIT, after=since, oldest_first=False):
                scanned += 1
                if (me is None or message.author.id == me.id) and matches(message):
                    return message.id
        except discord.HTTPException as error:
            raise _as_delivery_error(error, what) from None
        if scanned >= _HISTORY_SCAN_LIMIT:
            log.warning("job=%d: nothing in the last %d messages; it may be older still", job.id, scanned)
        return None

    async def ended(self, job: Job) -> None:
        if job.progress_message_id is not None:
            try:
                await self.progress(job)
            except (discord.HTTPException, DeliveryError):
                log.warning("job=%d: could not update the progress message", job.id)
        if job.state is JobState.CANCELLED:
            return  # the member did it themselves and was answered then
        channel = await self._channel(job)
        try:
            await channel.send(content=render.ended_notice(job), allowed_mentions=owner_only(job.member_id))
        except discord.HTTPException as error:
            raise _as_delivery_error(error, "post notice") from None
