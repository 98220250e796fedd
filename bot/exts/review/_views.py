"""Review mode in Discord: the review message's Approve / Reject buttons, and publishing.

The buttons carry the job id (``wan:approve:<id>``, ``wan:reject:<id>``), so they keep working
after restarts. The decision itself is a compare-and-set in SQLite (``ReviewService``); the
money design is described there.

Publishing an approved video copies the file from the review message (the provider's result
URL may have expired by the time a moderator gets to it). A post that failed, or that a crash
interrupted, is retried by pressing Approve again: the decision stands, the channel is searched
for an earlier post of the job first, and the video is posted once.

A rejection is finished the same way: the decision is recorded first, then the member is told
and the review message loses its buttons. If telling the member failed or a crash came between
(the review row says "not told yet"), pressing Reject again, or the bot's next start
(``finish_interrupted_rejections``), tells the member with the recorded reason and tidies the
review message. Nothing about money is repeated: any refund went with the decision.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.models import Job
from bot.domain.moderation import Review, ReviewState
from bot.errors import Conflict, NotFound, UserFacingError
from bot.exts.video._progress import update_progress
from bot.exts.video._result import result_shown
from bot.services.events import DeliveryError
from bot.ui import card, custom_ids, modrender
from bot.ui.channels import find_posted, has_component, owner_only, post_channel
from bot.ui.context import bot_of
from bot.ui.items import JobButton
from bot.ui.reason import ReasonModal

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)


def review_marker(job_id: int) -> str:
    """The custom_id that identifies a job's review message (searched for after a restart)."""
    return custom_ids.review_message(job_id)


class _KeyedLocks:
    """One asyncio lock per job, dropped when nobody holds or waits for it.

    The SQLite compare-and-set decides who approved; this lock keeps a second moderator's click
    from starting a second post while the first one's post is still on its way."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: int) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


_publishing = _KeyedLocks()


async def publish(bot: WanBot, job: Job, review: Review, review_message: discord.Message | None) -> int:
    """Post an approved video in its original channel, once. Returns the public message id."""
    try:
        channel = await post_channel(bot, job.channel_id)
        since = (review.decided_at or bot.clock()) - timedelta(minutes=1)
        existing = await find_posted(bot, channel, has_component(custom_ids.posted_result(job.id)), since)
        if existing is not None:
            await bot.services.reviews.mark_published(job.id, existing)
            return existing
        attachments = review_message.attachments if review_message is not None else []
        extra: dict[str, Any] = {}
        link: str | None = None
        if attachments:
            extra["file"] = await attachments[0].to_file()  # keeps the filename the card refers to
        elif job.result_url and not job.is_sandbox:
            link = job.result_url  # the review post was a link: the file was over the upload limit
        else:
            raise DeliveryError("the review message has no video to copy", transient=False)
        source = await bot.services.sources.get(job.id)
        filename = attachments[0].filename if attachments else None
        message = await channel.send(
            **card.send(
                bot.config.delivery.result_style, result_shown(job, link=link, source=source, filename=filename)
            ),
            allowed_mentions=owner_only(job.member_id),
            **extra,
        )
    except (discord.HTTPException, DeliveryError) as error:
        log.warning("job=%d: approved but not posted: %s", job.id, error)
        raise UserFacingError(
            f"Approved, but I could not post the video in <#{job.channel_id}> ({error}). "
            "Check my permissions there and press Approve again to retry."
        ) from None
    await bot.services.reviews.mark_published(job.id, message.id)
    log.info("review published job=%d message=%d", job.id, message.id)
    return message.id


async def _refresh(bot: WanBot, job_id: int) -> None:
    """Update the job's public progress line (best effort)."""
    job = await bot.services.jobs.get(job_id)
    try:
        await update_progress(bot, job)
    except (discord.HTTPException, DeliveryError):
        log.warning("job=%d: could not update the progress message", job_id)


async def _edit_review_message(message: discord.Message | None, job: Job, content: str) -> None:
    if message is None:
        return
    # Without buttons: the decision is made. The video stays for the record.
    link = None if message.attachments or job.is_sandbox else job.result_url
    decided = review_shown(job, link=link, filename=card.kept_video(message), head=content, buttons=False)
    try:
        await message.edit(**card.edit(card.style_of(message, "classic"), decided))
    except discord.HTTPException:
        log.warning("could not update review message %d", message.id)


class ApproveButton(JobButton, template=custom_ids.job_template("approve")):
    action, label, emoji = "approve", "Approve", "✅"
    style = discord.ButtonStyle.success
    moderators_only = True

    async def run(self, interaction: discord.Interaction, bot: WanBot) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with _publishing.hold(self.job_id):
            decision = await bot.services.reviews.approve(
                interaction.guild_id, self.job_id, actor_id=interaction.user.id
            )
            review = decision.review
            if review.state is not ReviewState.APPROVED or (not decision.won and review.published_message_id):
                raise Conflict(modrender.already_decided(self.job_id, review.state, review.decided_by))
            # This click decided, or the decision was made earlier and its post never happened.
            message_id = await publish(bot, decision.job, review, interaction.message)
        job = decision.job
        url = modrender.jump_url(job.guild_id, job.channel_id, message_id)
        assert review.decided_by is not None
        await _edit_review_message(interaction.message, job, modrender.approved_text(job, review.decided_by, url))
        await _refresh(bot, job.id)
        await interaction.followup.send(
            f"Approved job #{job.id}: [posted]({url}) in <#{job.channel_id}>.", ephemeral=True
        )


def reject_form(job_id: int, review_message: discord.Message | None) -> ReasonModal:
    """Asks for an optional reason the member sees, then rejects the job and tells them."""

    async def reject(interaction: discord.Interaction, text: str) -> None:
        bot = bot_of(interaction)
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        reason = text.strip() or None
        decision = await bot.services.reviews.reject(
            interaction.guild_id, job_id, actor_id=interaction.user.id, reason=reason
        )
        review = decision.review
        if not decision.won:
            raise Conflict(modrender.already_decided(job_id, review.state, review.decided_by))
        job = decision.job
        told = await finish_rejection(bot, job, review, review_message, decision.returned)
        money = f" {decision.returned} credits were refunded." if decision.returned else " The credits stay spent."
        await interaction.followup.send(
            f"Rejected job #{job.id}; <@{job.member_id}> was told {told}.{money}", ephemeral=True
        )

    return ReasonModal(title="Reject this video", label="Reason (the member sees it; optional)", on_reason=reject)


class RejectButton(JobButton, template=custom_ids.job_template("reject")):
    action, label, emoji = "reject", "Reject", "✖️"
    style = discord.ButtonStyle.danger
    moderators_only = True

    async def run(self, interaction: discord.Interaction, bot: WanBot) -> None:
        review = await bot.services.reviews.get(self.job_id)
        if review is None or review.guild_id != interaction.guild_id:
            raise NotFound(f"There is no video waiting for review as job #{self.job_id} in this server.")
        if review.state is ReviewState.REJECTED and not review.member_told:
            # Rejected, but the member was never told: finish it now, with the reason recorded then.
            await interaction.response.defer(ephemeral=True, thinking=True)
            job = await bot.services.jobs.get(self.job_id)
            returned = await bot.services.reviews.returned_for(self.job_id)
            told = await finish_rejection(bot, job, review, interaction.message, returned)
            await interaction.followup.send(
                f"Finished the rejection of job #{job.id}: <@{job.member_id}> was told {told}.", ephemeral=True
            )
            return
        if review.state is not ReviewState.PENDING:
            if review.state is ReviewState.REJECTED and review.decided_by is not None:
                # Told, but this message kept its buttons (its edit was interrupted): tidy it.
                job = await bot.services.jobs.get(self.job_id)
                returned = await bot.services.reviews.returned_for(self.job_id)
                await _edit_review_message(
                    interaction.message, job, modrender.rejected_text(job, review.decided_by, review.reason, returned)
                )
            raise Conflict(modrender.already_decided(self.job_id, review.state, review.decided_by))
        await interaction.response.send_modal(reject_form(self.job_id, interaction.message))


async def finish_rejection(
    bot: WanBot,
    job: Job,
    review: Review,
    review_message: discord.Message | None,
    returned: int | None,
) -> str:
    """Tell the member of a recorded rejection, then take the buttons off the review message.
    Returns where the member was told (for the moderator's answer)."""
    assert review.decided_by is not None
    told, notice_id = await tell_member_rejected(bot, job, modrender.rejection_notice(job, review.reason, returned))
    if notice_id is None:
        # The buttons stay, so Reject can be pressed again once the member can be reached.
        return f"{told}. Press Reject again to retry once that is fixed; I also retry when I restart"
    await bot.services.reviews.mark_told(job.id, notice_id)
    await _edit_review_message(
        review_message, job, modrender.rejected_text(job, review.decided_by, review.reason, returned)
    )
    await _refresh(bot, job.id)
    return told


async def finish_interrupted_rejections(bot: WanBot) -> None:
    """At start: every rejection whose member was never told is finished (best effort, logged)."""
    for review in await bot.services.reviews.untold_rejections():
        try:
            job = await bot.services.jobs.get(review.job_id)
            returned = await bot.services.reviews.returned_for(review.job_id)
            message: discord.Message | None = None
            try:
                channel = await post_channel(bot, review.channel_id)
                since = review.created_at - timedelta(minutes=1)
                found = await find_posted(bot, channel, has_component(custom_ids.undecided_review(job.id)), since)
                # The whole message: the decided card keeps its video, which a partial message does not carry.
                message = await channel.fetch_message(found) if found is not None else None
            except (DeliveryError, discord.HTTPException):
                log.warning("job=%d: review channel unavailable; telling the member anyway", job.id)
            told = await finish_rejection(bot, job, review, message, returned)
            log.info("job=%d: interrupted rejection finished; member told %s", job.id, told)
        except Exception:
            log.exception("job=%d: could not finish an interrupted rejection", review.job_id)


async def tell_member_rejected(bot: WanBot, job: Job, text: str) -> tuple[str, int | None]:
    """Tell the member privately; if their DMs are closed, in the job's channel without the video.
    Returns where (for the moderator) and the notice's message id (None: they were not told)."""
    try:
        user = bot.get_user(job.member_id) or await bot.fetch_user(job.member_id)
        sent = await user.send(text)
        return "by direct message", sent.id
    except discord.HTTPException as error:
        log.info("job=%d: could not DM the member (%s); telling them in the channel", job.id, error.status)
    try:
        channel = await post_channel(bot, job.channel_id)
        sent = await channel.send(f"<@{job.member_id}> {text}", allowed_mentions=owner_only(job.member_id))
        return f"in <#{job.channel_id}> (their direct messages are closed)", sent.id
    except (discord.HTTPException, DeliveryError):
        log.warning("job=%d: could not tell the member about the rejection", job.id, exc_info=True)
        return "nowhere: their direct messages are closed and I cannot post in the channel", None


def review_shown(
    job: Job, *, link: str | None, filename: str | None, head: str | None = None, buttons: bool = True
) -> card.Shown:
    """The review message: the member named (not pinged), the video, Approve and Reject."""
    return card.Shown(
        head or modrender.review_text(job),
        modrender.review_embed(job, link=link),
        prompt=job.spec.prompt,
        buttons=[ApproveButton(job.id), RejectButton(job.id)] if buttons else [],
        filename=filename,
    )


REVIEW_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (ApproveButton, RejectButton)
