"""Review mode: finished videos wait in a review channel until a moderator approves or rejects them.

Money: a reviewed job is *delivered* (its hold settled, the credits kept) when the video is
posted to the review channel, exactly like a direct post, because the render is made and the
operator has paid the provider for it. Approval changes no money. A rejection keeps the credits
spent unless the server's ``refund_on_reject`` setting is on; then the rejection appends one
``adjust`` entry of +price naming the job, in the same transaction as the decision. That is the
same refund a moderator can give with ``/wan-mod refund``, and the unique index
``ledger_one_refund`` makes sure a job is refunded at most once either way.

Why not keep the credits held until the decision: a review may wait for hours, during which a
hold would block the member's next jobs and show as "held by running jobs" although nothing runs;
and the job table would need states the runner does not have. Settling at the review post keeps
the runner unchanged and every balance exact at every moment.

Two moderators pressing at once: the decision is ``UPDATE … WHERE state = 'pending'``; exactly
one update changes a row, and the other caller is told who decided first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.domain.clock import Clock
from bot.domain.models import Job, JobState
from bot.domain.moderation import AuditAction, Review, ReviewState
from bot.domain.validation import validate_reason
from bot.errors import Conflict, NotFound
from bot.services.credits import CreditService
from bot.storage.audit import AuditRepository
from bot.storage.db import Database, Tx, member_lock
from bot.storage.jobs import JobRepository
from bot.storage.moderation import ModerationRepository
from bot.storage.reviews import ReviewRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Decision:
    job: Job
    review: Review  # as it stands after this call
    won: bool  # this call made the decision (False: someone else had already decided)
    refunded: int | None = None  # credits this rejection gave back
    # Credits the member has back for this job, by this rejection or an earlier /wan-mod refund:
    # what they are told, so a member refunded before the rejection is not told "they stay spent".
    returned: int | None = None


class ReviewService:
    def __init__(
        self,
        *,
        db: Database,
        reviews: ReviewRepository,
        settings: ModerationRepository,
        jobs: JobRepository,
        credits: CreditService,
        audit: AuditRepository,
        clock: Clock,
    ) -> None:
        self.db = db
        self.reviews = reviews
        self.settings = settings
        self.jobs = jobs
        self.credits = credits
        self.audit = audit
        self.clock = clock

    async def target_for(self, job: Job) -> int | None:
        """The review channel this job's video goes to, or None to post it directly.

        A job that already has a review (a delivery interrupted by a restart) keeps going there,
        even if review mode was switched off meanwhile: it must not skip a review it started."""
        existing = await self.reviews.get(job.id)
        if existing is not None:
            return existing.channel_id
        return (await self.settings.settings(job.guild_id)).review_target

    async def open(self, job: Job, channel_id: int) -> Review:
        return await self.reviews.open(job.id, job.guild_id, channel_id, self.clock())

    async def get(self, job_id: int) -> Review | None:
        return await self.reviews.get(job_id)

    async def _load(self, tx: Tx, guild_id: int, job_id: int) -> tuple[Job, Review]:
        job = await self.jobs.get_in(tx, job_id)
        review = await self.reviews.get_in(tx, job_id)
        if job is None or review is None or job.guild_id != guild_id:
            raise NotFound(f"There is no video waiting for review as job #{job_id} in this server.")
        if job.state is JobState.DELIVERING:
            raise Conflict(f"Job #{job_id} is still being posted for review. Try again in a moment.")
        return job, review

    async def approve(self, guild_id: int, job_id: int, *, actor_id: int) -> Decision:
        now = self.clock()
        async with self.db.transaction() as tx:
            job, _ = await self._load(tx, guild_id, job_id)
            won = await self.reviews.decide_in(tx, job_id, ReviewState.APPROVED, actor_id, None, now)
            if won:
                await self.audit.record_in(
                    tx,
                    guild_id=guild_id,
                    actor_id=actor_id,
                    action=AuditAction.APPROVE,
                    at=now,
                    target_member_id=job.member_id,
                    job_id=job_id,
                )
            review = await self.reviews.get_in(tx, job_id)
        assert review is not None
        if won:
            log.info("review approved job=%d by=%d", job_id, actor_id)
        return Decision(job, review, won)

    async def reject(self, guild_id: int, job_id: int, *, actor_id: int, reason: str | None) -> Decision:
        validate_reason(reason)
        now = self.clock()
        refunded: int | None = None
        earlier: int | None = None
        async with self.db.transaction() as tx:
            job, _ = await self._load(tx, guild_id, job_id)
            won = await self.reviews.decide_in(tx, job_id, ReviewState.REJECTED, actor_id, reason, now)
            if won:
                # Before reading whether it was refunded: a moderator's refund on another process
                # holds this lock until it commits, so what the member is told is what happened.
                await tx.lock(member_lock(job.guild_id, job.member_id))
                settings = await self.settings.settings_in(tx, guild_id)
                previous = await self.credits.job_refund_in(tx, job_id)
                earlier = previous.amount if previous is not None else None
                if settings.refund_on_reject and earlier is None and job.state is JobState.DELIVERED:
                    refunded = await self.credits.refund_in(
                        tx, job, actor_id=actor_id, reason=f"rejected in review: {reason or 'no reason given'}", at=now
                    )
                if refunded:
                    kept = f"refunded +{refunded} credits"
                elif earlier:
                    kept = "credits already refunded before"
                else:
                    kept = "credits kept (the render was paid)"
                await self.audit.record_in(
                    tx,
                    guild_id=guild_id,
                    actor_id=actor_id,
                    action=AuditAction.REJECT,
                    at=now,
                    target_member_id=job.member_id,
                    job_id=job_id,
                    reason=reason,
                    detail=kept,
                )
                if refunded:
                    await self.audit.record_in(
                        tx,
                        guild_id=guild_id,
                        actor_id=actor_id,
                        action=AuditAction.REFUND,
                        at=now,
                        target_member_id=job.member_id,
                        job_id=job_id,
                        reason=reason,
                        detail=f"+{refunded} credits, with the rejection",
                    )
            review = await self.reviews.get_in(tx, job_id)
        assert review is not None
        if won:
            log.info("review rejected job=%d by=%d refunded=%s", job_id, actor_id, refunded)
        return Decision(job, review, won, refunded, refunded or earlier)

    async def returned_for(self, job_id: int) -> int | None:
        """Credits the member has back for this job (a refund with the rejection or before it)."""
        async with self.db.reading() as tx:
            refund = await self.credits.job_refund_in(tx, job_id)
        return refund.amount if refund is not None else None

    async def mark_told(self, job_id: int, message_id: int) -> None:
        """The rejected job's member has been told (by ``message_id``): nothing is left to finish."""
        await self.reviews.set_told(job_id, message_id)

    async def untold_rejections(self) -> list[Review]:
        return await self.reviews.untold_rejections()

    async def mark_published(self, job_id: int, message_id: int) -> None:
        """The approved video is public: remember where, for reports, removals and history."""
        async with self.db.transaction() as tx:
            if await self.reviews.set_published_in(tx, job_id, message_id):
                await self.jobs.update_in(tx, job_id, result_message_id=message_id)

    async def pending_count(self, guild_id: int) -> int:
        """How many videos of this server wait for a moderator."""
        return await self.reviews.pending_count(guild_id)
