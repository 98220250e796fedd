"""Delivery to Discord: the one adapter that knows both the job runner and discord.py.

Everything is sent with the bot token into the job's channel, never through the member's
interaction token (it dies after 15 minutes, and renders take minutes). In review mode the
finished video goes to the server's review channel instead (see ``bot.exts.review._views``); to the
runner that is a delivery like any other, and the job is settled when it is posted there.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord

from bot.config import ResultStyle
from bot.domain.models import Job, JobState
from bot.domain.periods import period_key
from bot.exts.review._views import review_marker, review_shown
from bot.exts.video._progress import update_progress
from bot.exts.video._result import result_shown
from bot.services.events import Delivered, DeliveryError
from bot.services.fetch import FetchFailed, ResultTooLarge
from bot.services.notices import Notice
from bot.ui import card, custom_ids, modrender, render
from bot.ui.channels import (
    PostChannel,
    as_delivery_error,
    bot_permissions_in,
    cannot_post_reason,
    find_posted,
    has_component,
    owner_only,
    post_channel,
)

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)

_MiB = 1_048_576
# When the file could not be attached for a reason of the bot's own (its temporary disk was full).
_NOT_ATTACHED = "I could not attach the file this time, so here is the link: {link}"

__all__ = ["DiscordJobEvents", "owner_only"]


@dataclass(frozen=True, slots=True)
class _Post:
    """One way to show a finished video: where, and how it reads with a file or with a link."""

    channel: PostChannel
    # What the message shows for (link, uploaded filename); ``body`` lays it out in the configured style.
    shown: Callable[[str | None, str | None], card.Shown]
    style: ResultStyle

    def body(self, link: str | None, filename: str | None, *, note: str | None = None) -> dict[str, Any]:
        shown = self.shown(link, filename)
        if note:
            # The usual head line (not the "too large" one), then why there is a link after all.
            shown = replace(shown, head=f"{self.shown(None, filename).head} {note}")
        return card.send(self.style, shown)

    mentions: discord.AllowedMentions
    # In a review channel a failed post makes the video wait for the admins, not fail the job.
    review: bool
    # Sent with enforce_nonce: if a crash made us post twice within Discord's nonce window (minutes),
    # Discord returns the first message instead of creating a second. Longer gaps: find_delivery.
    nonce: str


class DiscordJobEvents:
    def __init__(self, bot: WanBot) -> None:
        self.bot = bot

    async def _channel(self, job: Job) -> PostChannel:
        return await post_channel(self.bot, job.channel_id)

    def _upload_limit(self, job: Job, channel: PostChannel) -> int:
        configured = self.bot.config.delivery.max_download_mb * _MiB
        # Recorded when the job was accepted: this process may not have the server in its cache
        # (another process holds its shard) and would see the unboosted default here.
        limit = job.upload_limit_bytes
        if limit is None:  # accepted before the limit was recorded
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
                shown=lambda link, name: result_shown(job, link=link, source=source, filename=name),
                style=style,
                mentions=owner_only(job.member_id),
                nonce=f"wan-result-{job.id}",
                review=False,
            )
        # Checked before the review is opened: while the channel is unusable the video waits and
        # follows the settings, so a new review channel (or review off) takes it from there.
        channel = await self._review_channel(job, review_channel_id)
        # Recorded before posting, so a restart looks for the post in the review channel.
        await self.bot.services.reviews.open(job, review_channel_id)
        return _Post(
            channel=channel,
            shown=lambda link, name: review_shown(job, link=link, filename=name),
            style=style,
            mentions=discord.AllowedMentions.none(),  # moderators see the member named, nobody is pinged
            nonce=f"wan-review-{job.id}",
            review=True,
        )

    async def _review_channel(self, job: Job, channel_id: int) -> PostChannel:
        """The review channel if the bot can post a video there; otherwise the video waits."""
        try:
            channel = await post_channel(self.bot, channel_id)
        except DeliveryError as error:
            if error.transient:
                raise
            raise await self._review_unusable(job, channel_id, "it is gone, or I cannot see it.") from None
        permissions = bot_permissions_in(channel)
        reason = (
            None if permissions is None else await cannot_post_reason(self.bot, channel, permissions, for_member=False)
        )
        if reason is not None:
            raise await self._review_unusable(job, channel_id, reason)
        return channel

    async def _review_unusable(self, job: Job, channel_id: int, reason: str) -> DeliveryError:
        """Tell the admins (once a day while it lasts); the error makes the job wait, not fail."""
        text = (
            f"⚠️ Finished videos cannot be posted in the review channel <#{channel_id}>: {reason} They wait for "
            "review (their credits stay held) and go out as soon as I can post there. Fix my permissions in that "
            "channel, choose another with `/wan-admin review on channel:`, or turn review off with "
            "`/wan-admin review off`. (This message comes once a day while it lasts.)"
        )
        notice = Notice(job.guild_id, f"review_channel:{channel_id}", period_key("daily", self.bot.clock()), text)
        await self.bot.services.notices.tell_once(notice)
        return DeliveryError(f"review channel {channel_id} unusable: {reason}", transient=True, waiting=True)

    async def _post_failed(self, post: _Post, job: Job, error: discord.HTTPException, what: str) -> DeliveryError:
        failure = as_delivery_error(error, what)
        if post.review and not failure.transient:
            return await self._review_unusable(job, post.channel.id, f"Discord refused the post ({failure.detail}).")
        return failure

    async def deliver(self, job: Job) -> Delivered:
        if not job.result_url:
            raise DeliveryError("no result url", transient=False)
        post = await self._target(job)
        try:
            folder = tempfile.TemporaryDirectory(prefix="wanbot-", ignore_cleanup_errors=True)
        except OSError as error:
            log.warning("no room for the download job=%d: %s; posting the link", job.id, error)
            return await self._post_link(post, job, too_large=False)
        with folder:
            try:
                fetched = await self.bot.services.fetcher.fetch(
                    job.result_url, max_bytes=self._upload_limit(job, post.channel), dest_dir=Path(folder.name)
                )
            except ResultTooLarge:
                return await self._post_link(post, job)
            except FetchFailed as error:
                if error.local:
                    # The bot's disk, not the link: the provider's link still works for the member.
                    log.warning("could not save the download job=%d: %s; posting the link", job.id, error)
                    return await self._post_link(post, job, too_large=False)
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
                raise await self._post_failed(post, job, error, "post result") from None
        return Delivered(message_id=message.id, as_link=False)

    async def _post_link(self, post: _Post, job: Job, *, too_large: bool = True) -> Delivered:
        """Post the provider's link instead of the file; the text says why (too large, or not
        attachable this time, e.g. the bot's temporary disk was full)."""
        link = job.result_url
        if not link or job.is_sandbox:
            if not too_large:
                # The sandbox has no public link: try the file again later, the disk may have room then.
                raise DeliveryError("could not save the result and it has no public link", transient=True)
            raise DeliveryError("result too large and has no public link", transient=False)
        # Not too large (the file could not be saved this time): the usual text, then why there is a link.
        body = post.body(link, None) if too_large else post.body(link, None, note=_NOT_ATTACHED.format(link=link))
        try:
            message = await post.channel.send(
                **body,
                allowed_mentions=post.mentions,
                nonce=post.nonce,
            )
        except discord.HTTPException as error:
            raise await self._post_failed(post, job, error, "post link") from None
        return Delivered(message_id=message.id, as_link=True)

    async def find_delivery(self, job: Job) -> int | None:
        since = (job.finished_at or job.accepted_at) - timedelta(minutes=1)
        review = await self.bot.services.reviews.get(job.id)
        if review is not None:
            channel, marker = await self._review_channel(job, review.channel_id), review_marker(job.id)
        else:
            channel, marker = await self._channel(job), custom_ids.posted_result(job.id)
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
        """The one message that says why a job ended and that the credits are back (the runner then
        shrinks the progress message to one line)."""
        if job.state is JobState.CANCELLED:
            return  # the member did it themselves and was answered then
        if job.error_code == "delivery_failed":
            # Before the notice, which likely fails the same way: this may pause the channel.
            try:
                await self.bot.services.channel_health.delivery_failed(job.guild_id, job.channel_id)
            except Exception:
                # Best effort: the count lives in the jobs, so the next /video there still sees it.
                log.warning("job=%d: could not check the channel's failed deliveries", job.id, exc_info=True)
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
