"""Reports of public results and removals of result messages.

A result has at most one open report; every member who reports it adds one vote, so moderators
get one notice with a count instead of a stream of notices. A removal is recorded once per job,
whoever removes it (the owner with Delete, a moderator with Delete, the report notice's Remove or
the "Remove video" menu), and closes the job's open report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.domain.clock import Clock
from bot.domain.models import Job
from bot.domain.moderation import AuditAction, Removal, Report, ReportState
from bot.domain.validation import validate_reason
from bot.errors import Conflict, NotFound
from bot.storage.audit import AuditRepository
from bot.storage.db import Database, Tx
from bot.storage.jobs import JobRepository
from bot.storage.reports import ReportRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    job: Job
    report: Report
    created: bool  # a new report: moderators need a new notice
    counted: bool  # this member had not reported it before


@dataclass(frozen=True, slots=True)
class RemovalOutcome:
    job: Job
    removal: Removal
    closed_report: Report | None  # the open report this removal settled, if there was one


class ReportService:
    def __init__(
        self, *, db: Database, reports: ReportRepository, jobs: JobRepository, audit: AuditRepository, clock: Clock
    ) -> None:
        self.db = db
        self.reports = reports
        self.jobs = jobs
        self.audit = audit
        self.clock = clock

    async def _job_in(self, tx: Tx, guild_id: int, job_id: int) -> Job:
        job = await self.jobs.get_in(tx, job_id)
        if job is None or job.guild_id != guild_id:
            raise NotFound(f"There is no job #{job_id} in this server.")
        return job

    async def report(
        self, guild_id: int, job_id: int, *, member_id: int, channel_id: int, message_id: int
    ) -> ReportOutcome:
        now = self.clock()
        async with self.db.transaction() as tx:
            job = await self._job_in(tx, guild_id, job_id)
            if await self.reports.removal_in(tx, job_id) is not None:
                raise Conflict("This video was already removed.")
            # Check-then-insert: on PostgreSQL reports run side by side, so the first one is created once.
            await tx.lock(("report", job_id))
            current = await self.reports.open_for_job_in(tx, job_id)
            created = current is None
            report_id = (
                await self.reports.create_in(
                    tx, guild_id=guild_id, job_id=job_id, channel_id=channel_id, message_id=message_id, at=now
                )
                if current is None
                else current.id
            )
            counted = await self.reports.add_vote_in(tx, report_id, member_id, now)
            report = await self.reports.get_in(tx, report_id)
        assert report is not None
        if counted:
            log.info("result reported job=%d by=%d votes=%d", job_id, member_id, report.votes)
        return ReportOutcome(job, report, created, counted)

    async def get(self, guild_id: int, report_id: int) -> Report:
        report = await self.reports.get(report_id)
        if report is None or report.guild_id != guild_id:
            raise NotFound(f"There is no report #{report_id} in this server.")
        return report

    async def set_notice(self, report_id: int, channel_id: int, message_id: int) -> Report:
        await self.reports.set_notice(report_id, channel_id, message_id)
        report = await self.reports.get(report_id)
        assert report is not None
        return report

    async def dismiss(self, guild_id: int, report_id: int, *, actor_id: int) -> Report:
        now = self.clock()
        async with self.db.transaction() as tx:
            report = await self.reports.get_in(tx, report_id)
            if report is None or report.guild_id != guild_id:
                raise NotFound(f"There is no report #{report_id} in this server.")
            if not await self.reports.close_in(tx, report_id, ReportState.DISMISSED, actor_id, now):
                raise Conflict(_already_closed(report))
            job = await self._job_in(tx, guild_id, report.job_id)
            await self.audit.record_in(
                tx,
                guild_id=guild_id,
                actor_id=actor_id,
                action=AuditAction.DISMISS_REPORT,
                at=now,
                target_member_id=job.member_id,
                job_id=job.id,
                detail=f"report #{report.id}, {report.votes} member(s)",
            )
            closed = await self.reports.get_in(tx, report_id)
        assert closed is not None
        return closed

    async def record_removal(
        self,
        guild_id: int,
        job_id: int,
        *,
        actor_id: int,
        channel_id: int,
        message_id: int,
        reason: str | None = None,
    ) -> RemovalOutcome:
        """Record that a result message was taken down (after it was deleted in Discord)."""
        validate_reason(reason)
        now = self.clock()
        async with self.db.transaction() as tx:
            job = await self._job_in(tx, guild_id, job_id)
            by_owner = actor_id == job.member_id
            added = await self.reports.add_removal_in(
                tx,
                job_id=job_id,
                guild_id=guild_id,
                channel_id=channel_id,
                message_id=message_id,
                actor_id=actor_id,
                by_owner=by_owner,
                reason=reason,
                at=now,
            )
            if not added:
                existing = await self.reports.removal_in(tx, job_id)
                who = f"<@{existing.actor_id}>" if existing is not None else "someone"
                raise Conflict(f"The video of job #{job_id} was already removed by {who}.")
            report = await self.reports.open_for_job_in(tx, job_id)
            closed_report: Report | None = None
            if report is not None and await self.reports.close_in(tx, report.id, ReportState.REMOVED, actor_id, now):
                closed_report = await self.reports.get_in(tx, report.id)
            via = f"report #{report.id}, {report.votes} member(s)" if report is not None else None
            await self.audit.record_in(
                tx,
                guild_id=guild_id,
                actor_id=actor_id,
                action=AuditAction.REMOVE,
                at=now,
                target_member_id=job.member_id,
                job_id=job_id,
                reason=reason,
                detail="their own video" if by_owner else via,
            )
            removal = await self.reports.removal_in(tx, job_id)
        assert removal is not None
        log.info("result removed job=%d by=%d owner=%s", job_id, actor_id, by_owner)
        return RemovalOutcome(job, removal, closed_report)


def _already_closed(report: Report) -> str:
    verb = "dismissed" if report.state is ReportState.DISMISSED else "handled (the video was removed)"
    who = f" by <@{report.closed_by}>" if report.closed_by else ""
    return f"This report was already {verb}{who}."
