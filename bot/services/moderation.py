"""Moderators' and admins' actions that are not about one review or report: settings, blocks,
refunds, a member's history and the audit log. Each action and its audit entry share one
transaction, so the log never misses an action that happened nor records one that did not."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, TypeVar

from bot.domain.clock import Clock
from bot.domain.models import Job, JobState
from bot.domain.moderation import AuditAction, AuditEntry, Block, HistoryItem, ModerationSettings
from bot.domain.validation import validate_reason
from bot.errors import Conflict, InvalidRequest, NotFound
from bot.services.credits import CreditService
from bot.storage.audit import AuditRepository
from bot.storage.db import Database, Tx
from bot.storage.jobs import JobRepository
from bot.storage.moderation import ModerationRepository
from bot.storage.reports import ReportRepository
from bot.storage.reviews import ReviewRepository

log = logging.getLogger(__name__)

HISTORY_PAGE = 10
LOG_PAGE = 15


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    page: int  # 1-based
    pages: int
    total: int


def _page_bounds(page: int, size: int) -> tuple[int, int]:
    if page < 1:
        raise InvalidRequest("`page` starts at 1.")
    return size, (page - 1) * size


def _pages(total: int, size: int) -> int:
    return max(1, -(-total // size))


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


class ModerationService:
    def __init__(
        self,
        *,
        db: Database,
        repo: ModerationRepository,
        audit: AuditRepository,
        credits: CreditService,
        jobs: JobRepository,
        reviews: ReviewRepository,
        reports: ReportRepository,
        clock: Clock,
    ) -> None:
        self.db = db
        self.repo = repo
        self.audit = audit
        self.credits = credits
        self.jobs = jobs
        self.reviews = reviews
        self.reports = reports
        self.clock = clock

    # --- settings --------------------------------------------------------------------------

    async def settings(self, guild_id: int) -> ModerationSettings:
        return await self.repo.settings(guild_id)

    async def set_review(
        self, guild_id: int, *, actor_id: int, enabled: bool, channel_id: int | None, refund_on_reject: bool | None
    ) -> ModerationSettings:
        now = self.clock()
        async with self.db.transaction() as tx:
            current = await self.repo.settings_in(tx, guild_id)
            channel = channel_id if channel_id is not None else current.review_channel_id
            if enabled and channel is None:
                raise InvalidRequest("Name the review channel: finished videos wait there for a moderator.")
            updated = replace(
                current,
                review_enabled=enabled,
                review_channel_id=channel,
                refund_on_reject=current.refund_on_reject if refund_on_reject is None else refund_on_reject,
            )
            await self.repo.save_settings_in(tx, updated, now)
            detail = (
                f"review {'on' if enabled else 'off'}; channel <#{channel}>; "
                f"refund on reject: {_yes_no(updated.refund_on_reject)}"
                if channel
                else f"review {'on' if enabled else 'off'}"
            )
            await self._record(tx, guild_id, actor_id, AuditAction.SETTING, now, detail=detail)
        return updated

    async def set_mod_channel(self, guild_id: int, *, actor_id: int, channel_id: int | None) -> ModerationSettings:
        now = self.clock()
        async with self.db.transaction() as tx:
            updated = replace(await self.repo.settings_in(tx, guild_id), mod_channel_id=channel_id)
            await self.repo.save_settings_in(tx, updated, now)
            shown = f"<#{channel_id}>" if channel_id else "none"
            await self._record(tx, guild_id, actor_id, AuditAction.SETTING, now, detail=f"moderators' channel {shown}")
        return updated

    # --- blocks ----------------------------------------------------------------------------

    async def block_of(self, guild_id: int, member_id: int) -> Block | None:
        return await self.repo.block(guild_id, member_id)

    async def block(self, guild_id: int, member_id: int, *, actor_id: int, reason: str | None) -> Block:
        validate_reason(reason)
        if member_id == actor_id:
            raise InvalidRequest("You cannot block yourself.")
        now = self.clock()
        async with self.db.transaction() as tx:
            # Check-then-insert: on PostgreSQL two blocks can run side by side, so one waits here.
            await tx.lock(("block", guild_id, member_id))
            existing = await self.repo.block_in(tx, guild_id, member_id)
            if existing is not None:
                raise Conflict(f"<@{member_id}> is already blocked (by <@{existing.actor_id}>).")
            await self.repo.add_block_in(tx, guild_id, member_id, actor_id, reason, now)
            await self._record(tx, guild_id, actor_id, AuditAction.BLOCK, now, target=member_id, reason=reason)
            block = await self.repo.block_in(tx, guild_id, member_id)
        assert block is not None
        log.info("member blocked guild=%d member=%d by=%d", guild_id, member_id, actor_id)
        return block

    async def unblock(self, guild_id: int, member_id: int, *, actor_id: int, reason: str | None) -> None:
        validate_reason(reason)
        now = self.clock()
        async with self.db.transaction() as tx:
            if not await self.repo.delete_block_in(tx, guild_id, member_id):
                raise Conflict(f"<@{member_id}> is not blocked.")
            await self._record(tx, guild_id, actor_id, AuditAction.UNBLOCK, now, target=member_id, reason=reason)
        log.info("member unblocked guild=%d member=%d by=%d", guild_id, member_id, actor_id)

    # --- refunds ---------------------------------------------------------------------------

    async def refund(self, guild_id: int, job_id: int, *, actor_id: int, reason: str | None) -> tuple[Job, int]:
        """Give a delivered job's credits back, at most once per job. Returns the job and the amount."""
        validate_reason(reason)
        now = self.clock()
        async with self.db.transaction() as tx:
            job = await self.jobs.get_in(tx, job_id)
            if job is None or job.guild_id != guild_id:
                raise NotFound(f"There is no job #{job_id} in this server.")
            if job.state is not JobState.DELIVERED:
                if job.state.is_released:
                    raise Conflict(f"Job #{job_id} did not deliver: its {job.price} credits were already returned.")
                raise Conflict(f"Job #{job_id} is still {job.state.label}. Refunds are for delivered videos.")
            amount = await self.credits.refund_in(tx, job, actor_id=actor_id, reason=reason, at=now)
            if amount is None:
                raise Conflict(f"Job #{job_id} was already refunded.")
            await self._record(
                tx,
                guild_id,
                actor_id,
                AuditAction.REFUND,
                now,
                target=job.member_id,
                job=job.id,
                reason=reason,
                detail=f"+{amount} credits",
            )
        log.info("job refunded job=%d amount=%d by=%d", job_id, amount, actor_id)
        return job, amount

    # --- reading ---------------------------------------------------------------------------

    async def history(self, guild_id: int, member_id: int, page: int = 1) -> Page[HistoryItem]:
        limit, offset = _page_bounds(page, HISTORY_PAGE)
        jobs, total = await self.jobs.page_for_member(guild_id, member_id, limit=limit, offset=offset)
        ids = [job.id for job in jobs]
        reviews = await self.reviews.for_jobs(ids)
        removals = await self.reports.removals_for_jobs(ids)
        refunded = await self.credits.refunded_jobs(ids)
        reports = await self.reports.votes_for_jobs(ids)
        items = [
            HistoryItem(
                job=job,
                review=reviews.get(job.id),
                removal=removals.get(job.id),
                refunded=job.id in refunded,
                reports=reports.get(job.id, 0),
            )
            for job in jobs
        ]
        return Page(items, page, _pages(total, HISTORY_PAGE), total)

    async def audit_page(self, guild_id: int, page: int = 1, *, member_id: int | None = None) -> Page[AuditEntry]:
        limit, offset = _page_bounds(page, LOG_PAGE)
        entries, total = await self.audit.page(guild_id, limit=limit, offset=offset, member_id=member_id)
        return Page(entries, page, _pages(total, LOG_PAGE), total)

    # --- the runner's refusal log ------------------------------------------------------------

    async def record_refusal_in(self, tx: Tx, job: Job, detail: str | None, at: datetime) -> None:
        if await self.audit.has_in(tx, job.id, AuditAction.PROVIDER_REFUSED):
            return
        await self._record(
            tx,
            job.guild_id,
            None,
            AuditAction.PROVIDER_REFUSED,
            at,
            target=job.member_id,
            job=job.id,
            detail=detail or "refused by the provider's content rules; credits returned",
        )

    # --- helpers ---------------------------------------------------------------------------

    async def _record(
        self,
        tx: Tx,
        guild_id: int,
        actor_id: int | None,
        action: AuditAction,
        at: datetime,
        *,
        target: int | None = None,
        job: int | None = None,
        reason: str | None = None,
        detail: str | None = None,
    ) -> None:
        await self.audit.record_in(
            tx,
            guild_id=guild_id,
            actor_id=actor_id,
            action=action,
            at=at,
            target_member_id=target,
            job_id=job,
            reason=reason,
            detail=detail,
        )
