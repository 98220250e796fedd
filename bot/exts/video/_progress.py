"""The public progress message of a job, edited in place as the job moves (and as its review does).

While the job waits or renders it says when the video should come: the queue place and a rough
start, or the expected render time for this shape from recent renders, the expected finish as a
Discord timestamp (it ticks in every client by itself, so no edit is needed to keep it current)
and a small bar. Once the job ends it shrinks to one line: a pointer to the result, or what
happened. That pointer is kept rather than the message deleted: it tells the story of the job in
the place members saw it start, and a deleted message would leave replies to it dangling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.domain.eta import longer_than_usual, progress_bar, queue_start_in, share_done
from bot.domain.models import Job, JobState
from bot.domain.moderation import ReviewState
from bot.domain.schedule import RenderEstimate
from bot.ui import render
from bot.ui.channels import post_channel

if TYPE_CHECKING:
    from bot.app import WanBot


@dataclass(frozen=True, slots=True)
class Outlook:
    """What the progress message knows besides the job: its review, its place, the expectation."""

    review: ReviewState | None = None
    queue_position: int | None = None  # a waiting job's place in the fair queue (1 = next)
    estimate: RenderEstimate | None = None
    slots: int = 1  # renders at the provider at once (limits.max_in_flight)
    result_url: str | None = None  # the posted result's jump link


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _basis(estimate: RenderEstimate) -> str:
    if estimate.seen == 0:
        return "first of its kind here, so this is a first guess"
    if not estimate.from_history:
        return f"a first guess: only {_plural(estimate.seen, 'render')} like it so far"
    return f"from the last {_plural(estimate.seen, 'render')} like it"


def _queued_line(job: Job, now: datetime, outlook: Outlook) -> str:
    position = outlook.queue_position
    if position is None:
        return "⏳ Queued: waiting to be sent to the renderer."
    ahead = position - 1
    line = (
        f"⏳ Queued: number **{position}** in line for the renderer"
        f" ({_plural(ahead, 'job')} ahead; members take turns)."
    )
    estimate = outlook.estimate
    if estimate is not None:
        start = now + timedelta(seconds=queue_start_in(position, outlook.slots, estimate.expected))
        line += (
            f"\nEstimated start {render.timestamp(start)}, then about"
            f" {render.duration_text(estimate.expected)} to render."
        )
    return line


def _rendering_line(job: Job, now: datetime, outlook: Outlook) -> str:
    since = job.submitted_at or job.accepted_at
    line = f"🎞️ Rendering, started {render.timestamp(since)}."
    estimate = outlook.estimate
    if estimate is None:
        return line
    elapsed = (now - since).total_seconds()
    bar = f"`{progress_bar(share_done(elapsed, estimate.expected))}`"
    usual = render.duration_text(estimate.expected)
    if longer_than_usual(elapsed, estimate.expected):
        return f"{line}\n{bar} Taking longer than usual (usually about {usual}, {_basis(estimate)})."
    finish = since + timedelta(seconds=estimate.expected)
    return f"{line}\n{bar} Expected {render.timestamp(finish)}: about {usual}, {_basis(estimate)}."


def _ended_line(job: Job, outlook: Outlook) -> str:
    """The one line left once the job is over."""
    head = f"**Job #{job.id}** for <@{job.member_id}>"
    state = job.state
    if state is JobState.DELIVERED and outlook.review is ReviewState.PENDING:
        return f"🔎 {head}: done. A moderator will look at the video before it is posted here."
    if state is JobState.DELIVERED and outlook.review is ReviewState.REJECTED:
        return f"🚫 {head}: done, but a moderator did not approve the video for this channel."
    if state is JobState.DELIVERED:
        took = f" in {render.duration_text(job.render_seconds)}" if job.render_seconds is not None else ""
        video = f"[the video]({outlook.result_url})" if outlook.result_url else "the video"
        return f"✅ {head}: done{took}; {video} is posted below."
    if state is JobState.CANCELLED:
        return f"🚫 {head}: cancelled. {job.price} credits returned."
    reason = render.sentence(job.error_message or "") or "It did not finish."
    return f"❌ {head}: {state.label}. {reason} {job.price} credits returned."


def progress_text(job: Job, now: datetime, outlook: Outlook | None = None) -> str:
    """The public progress message. It names the member without pinging them (no allowed mentions)."""
    outlook = outlook or Outlook()
    state = job.state
    if state.is_terminal:
        return _ended_line(job, outlook)
    head = f"🎬 **Job #{job.id}** for <@{job.member_id}> · {render.spec_line(job.spec)}"
    if state is JobState.ACCEPTED:
        line = _queued_line(job, now, outlook)
    elif state in (JobState.SUBMITTED, JobState.RENDERING):
        line = _rendering_line(job, now, outlook)
    else:
        line = "📤 Finished: posting the video."
    return f"{head}\n{line}"


def _jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


async def outlook_for(bot: WanBot, job: Job, *, queue_position: int | None = None) -> Outlook:
    review = await bot.services.reviews.get(job.id) if job.state is JobState.DELIVERED else None
    estimate = None
    if not job.state.is_terminal:
        estimate = await bot.services.runner.estimate(job.spec)
    result_url = None
    if job.state is JobState.DELIVERED:
        if review is None and job.result_message_id is not None:
            result_url = _jump_url(job.guild_id, job.channel_id, job.result_message_id)
        elif review is not None and review.published_message_id is not None:
            result_url = _jump_url(job.guild_id, job.channel_id, review.published_message_id)
    return Outlook(
        review=review.state if review else None,
        queue_position=queue_position,
        estimate=estimate,
        slots=bot.config.limits.max_in_flight,
        result_url=result_url,
    )


async def update_progress(bot: WanBot, job: Job, *, queue_position: int | None = None) -> None:
    """Raises discord.HTTPException or DeliveryError; callers decide whether that matters."""
    if job.progress_message_id is None:
        return
    channel = await post_channel(bot, job.channel_id)
    message = channel.get_partial_message(job.progress_message_id)
    text = progress_text(job, bot.clock(), await outlook_for(bot, job, queue_position=queue_position))
    await message.edit(content=text)
