"""The public progress line of a job, edited in place as the job moves (and as its review does)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.domain.models import Job, JobState
from bot.ui import render
from bot.ui.channels import post_channel

if TYPE_CHECKING:
    from bot.app import WanBot


async def update_progress(bot: WanBot, job: Job, *, queue_position: int | None = None) -> None:
    """Raises discord.HTTPException or DeliveryError; callers decide whether that matters."""
    if job.progress_message_id is None:
        return
    channel = await post_channel(bot, job.channel_id)
    review = await bot.services.reviews.get(job.id) if job.state is JobState.DELIVERED else None
    message = channel.get_partial_message(job.progress_message_id)
    text = render.progress_text(job, bot.clock(), review.state if review else None, queue_position=queue_position)
    await message.edit(content=text)
