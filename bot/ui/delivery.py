"""Delivery to Discord: the one adapter that knows both the job runner and discord.py.

Everything is sent with the bot token into the job's channel, never through the member's
interaction token (it dies after 15 minutes, and renders take minutes). In review mode the
finished video goes to the server's review channel instead (see ``bot.ui.review``); to the
runner that is a delivery like any other, and the job is settled when it is posted there.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.models import Job, JobState
from bot.services.events import Delivered, DeliveryError
from bot.services.fetch import FetchFailed, ResultTooLarge
from bot.ui import card, modrender, render
from bot.ui.channels import PostChannel, as_delivery_error, find_posted, has_component, owner_only, post_channel
from bot.ui.progress import update_progress
from bot.ui.result import result_shown
from bot.ui.review import review_marker, review_shown

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)

_MiB = 1_048_576

__all__ = ["DiscordJobEvents", "owner_only"]


@dataclass(frozen=True, slots=True)
class _Post:
    """One way to show a finished video: where, and how it reads with a file or with a link."""

    channel: PostChannel
    # The message's parts for (link, uploaded filename), in the configured style (``bot.ui.card``).
    body: Callable[[str | None, str | None], dict[str, Any]]
    mentions: discord.AllowedMentions
    # Sent with enforce_nonce: if a crash made us post twice within Discord's nonce window (minutes),
    # Discord returns the first message instead of creating a second. Longer gaps: find_delivery.
    nonce: str


class DiscordJobEvents:
    def __init__(self, bot: WanBot) -> None:
        self.bot = bot

    async def _channel(self, job: Job) -> PostChannel:
        return await post_channel(self.bot, job.channel_id)

    def _upload_limit(self, channel: PostChannel) -> int:
        configured = self.bot.config.delivery.max_download_mb * _MiB
        guild = getattr(channel, "guild", None)
        # SimCord does not enforce upload limits and neither does the API until it rejects: check here.
        limit = guild.filesize_limit if guild is not None else 10 * _MiB
        return min(configured, limit)

    async def progress(self, job: Job, *, queue_position: int | None = None) -> None:
        await update_progress(self.bot, job, queue_position=queue_position)

    async def _target(self, job: Job) -> _Post:
        style = self.bot.config.delivery.result_style
        review_channel_id = await self.bot.services.reviews.target_for(job)
        if review_channel_id is None:
            source = await self.bot.services.sources.get(job.id)
            return _Post(
                channel=await self._channel(job),
                body=lambda link, name: card.send(style, result_shown(job, link=link, source=source, filename=name)),
                mentions=owner_only(job.member_id),
                nonce=f"wan-result-{job.id}",
            )
        # Recorded before posting, so a restart looks for the post in the review channel.
        await self.bot.services.reviews.open(job, review_channel_id)
        return _Post(
            channel=await post_channel(self.bot, review_channel_id),
            body=lambda link, name: card.send(style, review_shown(job, link=link, filename=name)),
            mentions=discord.AllowedMentions.none(),  # moderators see the member named, nobody is pinged
            nonce=f"wan-review-{job.id}",
        )

    async def deliver(self, job: Job) -> Delivered:
        if not job.result_url:
            raise DeliveryError("no result url", transient=False)
        post = await self._target(job)
        with tempfile.TemporaryDirectory(prefix="wanbot-") as folder:
            try:
                fetched = await self.bot.services.fetcher.fetch(
                    job.result_url, max_bytes=self._upload_limit(post.channel), dest_dir=Path(folder)
                )
            except ResultTooLarge:
                return await self._post_link(post, job)
            except FetchFailed as error:
                raise DeliveryError(f"download: {error}", transient=error.transient) from None
            try:
                message = await post.channel.send(
                    **post.body(None, fetched.filename),
                    file=discord.File(fetched.path, filename=fetched.filename),
                    allowed_mentions=post.mentions,
                    nonce=post.nonce,
                )
            except discord.HTTPException as error:
                if error.status == 413:
                    return await self._post_link(post, job)
                raise as_delivery_error(error, "post result") from None
        return Delivered(message_id=message.id, as_link=False)

    async def _post_link(self, post: _Post, job: Job) -> Delivered:
        link = job.result_url
        if not link or job.is_sandbox:
            raise DeliveryError("result too large and has no public link", transient=False)
        try:
            message = await post.channel.send(
                **post.body(link, None),
                allowed_mentions=post.mentions,
                nonce=post.nonce,
            )
        except discord.HTTPException as error:
            raise as_delivery_error(error, "post link") from None
        return Delivered(message_id=message.id, as_link=True)

    async def find_delivery(self, job: Job) -> int | None:
        since = (job.finished_at or job.accepted_at) - timedelta(minutes=1)
        review = await self.bot.services.reviews.get(job.id)
        if review is not None:
            channel, marker = await post_channel(self.bot, review.channel_id), review_marker(job.id)
        else:
            channel, marker = await self._channel(job), f"wan:reroll:{job.id}"
        found = await find_posted(self.bot, channel, has_component(marker), since)
        if found is not None:
            log.info(
                "job already posted job=%d guild=%d member=%d message=%d; not posting again",
                job.id,
                job.guild_id,
                job.member_id,
                found,
            )
        return found

    async def find_notice(self, job: Job) -> int | None:
        if job.state is JobState.CANCELLED:
            return None  # no notice is ever posted for a cancel (see ``ended``)
        text = render.ended_notice(job)
        since = (job.finished_at or job.accepted_at) - timedelta(minutes=1)
        channel = await self._channel(job)
        return await find_posted(self.bot, channel, lambda message: message.content == text, since, what="notice scan")

    async def ended(self, job: Job) -> None:
        if job.progress_message_id is not None:
            try:
                await self.progress(job)
            except (discord.HTTPException, DeliveryError):
                log.warning("job progress update failed job=%d guild=%d member=%d", job.id, job.guild_id, job.member_id)
        if job.state is JobState.CANCELLED:
            return  # the member did it themselves and was answered then
        channel = await self._channel(job)
        try:
            await channel.send(content=render.ended_notice(job), allowed_mentions=owner_only(job.member_id))
        except discord.HTTPException as error:
            raise as_delivery_error(error, "post notice") from None
        if job.state is JobState.REFUSED:
            await self._tell_moderators_refused(job)

    async def _tell_moderators_refused(self, job: Job) -> None:
        """Best effort: the refusal is already in the audit log; this is the heads-up."""
        settings = await self.bot.services.moderation.settings(job.guild_id)
        if settings.notice_channel_id is None:
            return
        try:
            channel = await post_channel(self.bot, settings.notice_channel_id)
            await channel.send(modrender.refusal_notice(job))
        except (discord.HTTPException, DeliveryError):
            log.warning("job=%d: could not tell moderators about the provider's refusal", job.id, exc_info=True)
