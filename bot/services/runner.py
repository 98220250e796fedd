"""The job runner: moves every job from accepted to delivered or released.

Driven by one ``tick()`` per loop iteration. A tick reads only the jobs whose
``next_check_at`` has come (an index range scan), so its cost grows with the jobs due, not
with all jobs in flight. Every step is a compare-and-set on the job's state with its money
effect in the same transaction, and every wait is a timestamp in SQLite, so a restart picks
each job up exactly where it stopped.

Jobs waiting for the provider (state ``accepted``) are admitted by ``runner_queue``; how a
provider's "no" ends a job is the domain's table (``bot.domain.outcomes``); every "look again
later" is a ``Reschedule`` raised inside the step and written in one place (``_step_safely``).

Provider policy on a create whose answer was lost (timeout, dropped connection, garbled
body, or a crash while the request was on the wire):
  - apimall (Idempotency-Key): retried with the same key; the provider returns the same task.
    Until then the job is ``create_unanswered``: it cannot be cancelled, and it is resent even
    past the time or attempt limits (a few times) before it is given up.
  - wan26ai (no such key): never resent, because a second create could make a second paid
    task. The job ends, the member's credits are released, and the operator is warned in the
    log with the job id so a stray task can be reconciled. The member is never charged for it.

Across processes every step works under a lease on its job (``JobRepository.claim``): claimed in
the due scan or at admission, renewed by a heartbeat while the step runs, checked again just
before each create, status check and post, and passed as a fencing epoch to every write, so a
process that stalled past its lease can neither call out again nor write. A dead process's jobs
are taken over when its leases run out; the "find my earlier post" path and the message nonces
make the new owner deliver exactly once. A wan26ai create that may be on the wire is never
resent by the new owner either: it ends as unconfirmed, exactly as after a restart.

Every write a step makes is one unit of work (``Database.run``): its compare-and-set, its money
move and the fresh row the step goes on with, in one hop, sharing a group commit with the other
jobs' units of the same tick (on SQLite). A unit never awaits the provider or Discord: the call is
made first and its answer handed to storage as one unit. A lease this process claimed or checked
less than a third of its length ago is not checked again before a status check (a read at the
provider): no other process can have taken it, and every write stays fenced by its epoch.

A task id the provider did give is never dropped: if writing it fails, it is kept in memory and
written on the next ticks. And no job is timed out on the clock alone: past the limit it gets one
last status check, and a finished render is delivered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.domain.clock import Clock
from bot.domain.models import Job, JobState, VideoSpec
from bot.domain.outcomes import ProviderProblem, outcome_for
from bot.domain.schedule import (
    DEFAULT_PATIENCE,
    RenderEstimate,
    backoff_delay,
    estimate_render,
    first_check_delay,
    next_check_delay,
)
from bot.providers.base import (
    AmbiguousSubmitError,
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderOutOfCredits,
    ProviderRefused,
    ProviderRejectedRequest,
    SubmitRequest,
    SubmitResult,
    TaskNotFound,
    TaskState,
    TaskStatus,
    TransientProviderError,
)
from bot.services.credits import CreditService
from bot.services.events import DeliveryError, JobEvents, OperatorAlerts, RefusalLog
from bot.services.runner_queue import QueueAdmission
from bot.services.runner_reschedule import LeaseLost, Reschedule
from bot.storage.db import Database, Tx
from bot.storage.jobs import JobRepository

log = logging.getLogger(__name__)

# States whose hold is still open and may end in a release.
_OPEN_STATES = (JobState.ACCEPTED, JobState.SUBMITTED, JobState.RENDERING, JobState.SUCCEEDED, JobState.DELIVERING)
# A task id the provider does not know is believed after this many checks (it may lag right after create).
_NOT_FOUND_TOLERANCE = 2
# Delivery and notice attempts before giving up (transient Discord errors, with backoff: about an hour).
_MAX_DELIVERY_ATTEMPTS = 10
_MAX_NOTICE_ATTEMPTS = 6
# A delivery waiting for admins (see DeliveryError.waiting) looks again this often.
_WAITING_RETRY_SECONDS = 300.0
_MEMBER_MESSAGE_LIMIT = 300
# Status checks that may fail (transient errors) once a job is past its time limit, before it is ended.
_FINAL_CHECK_ATTEMPTS = 3
# Creates resent (same Idempotency-Key) past the limits to learn whether a paid task exists.
_RESOLVE_ATTEMPTS = 3
# A task id that cannot be written is logged at the first failure and then every this many.
_UNRECORDED_LOG_EVERY = 30
# An unexpected exception in one job's step reschedules only that job, this far out.
_CRASH_RETRY_SECONDS = 60.0
_HISTORY_TTL_SECONDS = 60.0
# Discord rate-limits message edits: a job's progress message is never edited more often than this,
# not even for a state change (the last edit, the pointer to the result, waits for it if needed).
MIN_PROGRESS_EDIT_GAP_SECONDS = 15.0


@dataclass(slots=True)
class RunnerSettings:
    poll_interval: float
    job_timeout: timedelta
    max_submit_attempts: int
    concurrency: int
    batch_size: int
    progress_edit_seconds: float
    max_in_flight: int = 4
    # >1 when completion callbacks are on: polling is then only the fallback (see schedule.py).
    poll_stretch: float = 1.0
    # How long a tick waits for its steps. A step still running then (a slow download, a channel
    # in slowmode, a rate-limited route) finishes on its own, and the loop goes on checking the rest.
    step_wait_seconds: float = 5.0
    # Later status gaps as a share of the time rendered so far (provider.poll_patience).
    poll_patience: float = DEFAULT_PATIENCE
    # How long a claim on a job lasts unless renewed: at least twice the longest request a step
    # makes (the container derives it), so a live process renews (every third of it) long before.
    lease_seconds: float = 600.0
    # This process among those sharing the database. A restarted process with the same name takes
    # its own leases back at once; others wait for them to run out.
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")


@dataclass(slots=True)
class TickReport:
    due: int = 0
    submitted: int = 0
    checked: int = 0
    delivered: int = 0
    released: int = 0
    errors: int = 0


@dataclass(slots=True)
class RunnerStats:
    """Counters for health and metrics endpoints."""

    ticks: int = 0
    last_tick_at: datetime | None = None
    last_tick_seconds: float = 0.0
    step_errors: int = 0
    status_checks: int = 0


def _who(job: Job) -> str:
    """The ids every job log line carries, in one greppable form."""
    return f"job={job.id} guild={job.guild_id} member={job.member_id}"


def _end_not_shown(job: Job) -> bool:
    """An ended job whose progress message was not edited after it ended. (The same instant counts as
    before: only a job the runner scheduled for it is looked at, and a successful edit unschedules it.)"""
    ended_at = job.delivered_at if job.state is JobState.DELIVERED else job.finished_at
    if not job.state.is_terminal or job.progress_message_id is None or ended_at is None:
        return False
    return job.progress_edited_at is None or job.progress_edited_at <= ended_at


def _member_text(text: str | None, fallback: str) -> str:
    cleaned = " ".join((text or "").split())
    if not cleaned:
        return fallback
    return cleaned if len(cleaned) <= _MEMBER_MESSAGE_LIMIT else cleaned[: _MEMBER_MESSAGE_LIMIT - 1] + "…"


class JobRunner:
    def __init__(
        self,
        *,
        db: Database,
        jobs: JobRepository,
        credits: CreditService,
        provider: Provider,
        events: JobEvents,
        clock: Clock,
        settings: RunnerSettings,
        alerts: OperatorAlerts | None = None,
        callback_url_for: Callable[[Job], str | None] | None = None,
        public_for: Callable[[int], Awaitable[bool]] | None = None,
        refusals: RefusalLog | None = None,
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.credits = credits
        self.provider = provider
        self.events = events
        self.clock = clock
        self.settings = settings
        self.alerts = alerts
        self.callback_url_for = callback_url_for
        self.public_for = public_for
        self.refusals = refusals
        self.stats = RunnerStats()
        self._busy: set[int] = set()
        # Steps a tick stopped waiting for, and the jobs they are for: no later tick steps them twice.
        self._unfinished: set[asyncio.Future[None]] = set()
        self._unfinished_jobs: set[int] = set()
        self.queue = QueueAdmission(
            db,
            jobs,
            max_in_flight=settings.max_in_flight,
            job_timeout=settings.job_timeout,
            refresh_seconds=settings.progress_edit_seconds,
        )
        # Task ids the provider gave that the database could not record yet (busy, locked, full):
        # job id → (job, the create's answer, when it came, attempt). Retried first on every tick.
        self._unrecorded: dict[int, tuple[Job, SubmitResult, datetime, int]] = {}
        self._unrecorded_failures: dict[int, int] = {}
        self._history: dict[tuple[str, int, str], tuple[RenderEstimate, float]] = {}
        # State-change edits held back by the edit gap: job id → when the gap allows it.
        self._held_edits: dict[int, datetime] = {}
        # Rendering jobs whose bar and ETA are due a refresh without a status check: job id → when.
        # In memory: after a restart the next status check starts it again.
        self._refresh_at: dict[int, datetime] = {}
        # The jobs whose steps run now, and the epoch each one's claim set (the fencing token).
        self._leases: dict[int, int] = {}
        # When each of those leases was last claimed, checked or renewed (by this process's clock).
        self._confirmed_at: dict[int, datetime] = {}
        self._renewed_at: datetime | None = None

    # --- the loop body -----------------------------------------------------------------------

    async def tick(self) -> TickReport:
        """One pass over the due jobs. Never raises: one bad job cannot stop the loop."""
        started = time.perf_counter()
        report = TickReport()
        now = self.clock()
        if self._unrecorded:
            await self._record_unrecorded(report)
        await self._heartbeat(now)
        busy = self._busy | self._unfinished_jobs
        until = self._lease_until()
        owner = self.settings.owner
        try:
            found = await self.jobs.due(now, self.settings.batch_size, owner=owner)
            # Never claimed again while this process steps it: a new epoch would fence our own step.
            candidates = [job for job in found if job.id not in busy]
            claimed = await self.jobs.claim([job.id for job in candidates], owner=owner, until=until, now=now)
            due = [replace(job, lease_epoch=claimed[job.id]) for job in candidates if job.id in claimed]
            to_send, still_waiting = await self.queue.admit(now, owner=owner, until=until, busy=busy)
            for job in (*due, *to_send):
                self._confirmed_at[job.id] = now
        except Exception:
            log.exception("could not read due jobs; trying again next tick")
            report.errors += 1
            return report
        work = due + to_send
        report.due = len(work)
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def run(job: Job) -> None:
            async with limit:
                await self._step_safely(job, report)

        async def show_place(job: Job, position: int) -> None:
            async with limit:
                await self._show_position(job, position)

        if work:
            await self._wait_bounded({job.id: run(job) for job in work})
        places = self.queue.changed_places(still_waiting) if still_waiting is not None else []
        if places:
            await asyncio.gather(*(show_place(job, position) for job, position in places))
        await self._edit_held(now)
        self.stats.ticks += 1
        self.stats.last_tick_at = self.clock()
        self.stats.last_tick_seconds = time.perf_counter() - started
        return report

    async def _wait_bounded(self, steps: dict[int, Awaitable[None]]) -> None:
        """Run the tick's steps; wait at most ``step_wait_seconds`` and leave the slow ones running."""
        running = {asyncio.ensure_future(step): job_id for job_id, step in steps.items()}
        _, pending = await asyncio.wait(running, timeout=self.settings.step_wait_seconds)
        for task in pending:
            job_id = running[task]
            self._unfinished.add(task)
            self._unfinished_jobs.add(job_id)
            task.add_done_callback(lambda done, job_id=job_id: self._forget(done, job_id))  # type: ignore[misc]
        if pending:
            log.info("tick goes on while %d slow step(s) finish", len(pending))

    def _forget(self, task: asyncio.Future[None], job_id: int) -> None:
        self._unfinished.discard(task)
        self._unfinished_jobs.discard(job_id)

    async def wait_unfinished(self, grace_seconds: float) -> None:
        """On shutdown: give the steps a tick left running this long to finish (a step cut short
        is resumed at the next start, like after a crash)."""
        if self._unfinished:
            await asyncio.wait(set(self._unfinished), timeout=grace_seconds)

    async def _show_position(self, job: Job, position: int) -> None:
        # The first place shown goes out at once; later moves at most every progress_edit_seconds.
        first = self.queue.first_shown(job.id)
        if await self._progress(job.id, force=first, queue_position=position):
            self.queue.shown(job.id, position)
        elif first:
            self.queue.read_again()

    async def check_now(self, job_id: int) -> bool:
        """Look at one job at once (a completion callback said it may be done). True if it was stepped.

        Only with its lease: if another process is stepping the job, that one sees the news."""
        job = await self.jobs.get(job_id)
        if job is None or job.state not in (JobState.SUBMITTED, JobState.RENDERING) or job.id in self._busy:
            return False
        now = self.clock()
        claimed = await self.jobs.claim([job_id], owner=self.settings.owner, until=self._lease_until(), now=now)
        if job_id not in claimed:
            return False
        self._confirmed_at[job_id] = now
        await self._step_safely(replace(job, lease_epoch=claimed[job_id]), TickReport())
        return True

    # --- leases ------------------------------------------------------------------------------

    def _lease_fields(self, job_id: int) -> dict[str, Any]:
        """Columns that extend a lease in a fenced write (only when this step holds one)."""
        return {"lease_until": self._lease_until()} if job_id in self._leases else {}

    def _lease_until(self) -> datetime:
        return self.clock() + timedelta(seconds=self.settings.lease_seconds)

    async def _heartbeat(self, now: datetime) -> None:
        """Renew the leases of the steps still running, every third of the lease."""
        if not self._leases:
            return
        if self._renewed_at is not None and (now - self._renewed_at).total_seconds() < self.settings.lease_seconds / 3:
            return
        try:
            renewed = await self.jobs.renew(list(self._leases), owner=self.settings.owner, until=self._lease_until())
            self._renewed_at = now
            for job_id in renewed & self._leases.keys():
                self._confirmed_at[job_id] = now
        except Exception:
            log.warning("could not renew job leases; trying again next tick", exc_info=True)

    async def _hold(self, job_id: int, *, read_only: bool = False) -> None:
        """Just before an external call: still ours? (extended by a lease's length). Raises LeaseLost.

        ``read_only`` (a status check): a lease confirmed less than a third of its length ago is
        still ours without asking (nobody may take it before it runs out), so the due scan's claim
        covers the check; a post or a create always asks."""
        epoch = self._leases.get(job_id)
        if epoch is None:
            return
        now = self.clock()
        confirmed = self._confirmed_at.get(job_id)
        if read_only and confirmed is not None and (now - confirmed).total_seconds() < self.settings.lease_seconds / 3:
            return
        if not await self.jobs.hold(job_id, owner=self.settings.owner, epoch=epoch, until=self._lease_until()):
            raise LeaseLost(job_id)
        self._confirmed_at[job_id] = now

    async def _update(self, job_id: int, *, expect_state: JobState | None = None, **fields: Any) -> bool:
        epoch = self._leases.get(job_id)
        return await self.db.run(
            lambda tx: self.jobs.update_in(tx, job_id, expect_state=expect_state, epoch=epoch, **fields)
        )

    async def _moved(
        self,
        job_id: int,
        from_states: Any,
        to_state: JobState,
        and_then: Callable[[Tx], Awaitable[Any]] | None = None,
        **fields: Any,
    ) -> Job | None:
        """One unit: the fenced compare-and-set, what goes with it (``and_then``: the money move), and
        the row as it is now for the step to go on with; None when the job was not moved."""
        epoch = self._leases.get(job_id)

        async def unit(tx: Tx) -> Job | None:
            moved = await JobRepository.move_in(tx, job_id, from_states, to_state, epoch=epoch, **fields)
            if moved is not None and and_then is not None:
                await and_then(tx)  # it writes the ledger and budgets, not the job's row
            return moved

        return await self.db.run(unit)

    async def _step_safely(self, job: Job, report: TickReport) -> None:
        if job.id in self._busy:
            return
        self._busy.add(job.id)
        self._leases[job.id] = job.lease_epoch
        try:
            try:
                await self.step(job, report)
            except Reschedule as later:
                await self._reschedule(job, later)
        except LeaseLost:
            log.warning("job taken over by another process %s: this one stalled past its lease", _who(job))
        except Exception:
            report.errors += 1
            self.stats.step_errors += 1
            log.exception("job step failed unexpectedly %s state=%s", _who(job), job.state.value)
            try:
                await self._reschedule(job, Reschedule(_CRASH_RETRY_SECONDS))
            except Exception:
                log.exception("job reschedule failed %s", _who(job))
        finally:
            self._busy.discard(job.id)
            self._leases.pop(job.id, None)
            self._confirmed_at.pop(job.id, None)

    async def _reschedule(self, job: Job, later: Reschedule) -> None:
        """The one place a job is looked at again later (see ``Reschedule``)."""
        # The lease goes with it: whichever process is free when the time comes takes the job.
        await self._update(
            job.id,
            expect_state=later.expect_state,
            next_check_at=self.clock() + timedelta(seconds=later.delay),
            lease_owner=None,
            lease_until=None,
            **later.fields,
        )
        if later.what is not None:
            log.warning("job %s %s retry_in=%.0fs: %s", later.what, _who(job), later.delay, later.reason)

    async def step(self, job: Job, report: TickReport) -> None:
        state = job.state
        if state is JobState.ACCEPTED:
            await self._submit(job, report)
        elif state in (JobState.SUBMITTED, JobState.RENDERING):
            await self._check(job, report)
        elif state in (JobState.SUCCEEDED, JobState.DELIVERING):
            await self._deliver(job, report)
        elif state.is_released and not job.notified:
            # A notice may have gone out before a crash or a failed write: look before posting again.
            await self._notify_ended(job, may_be_posted=True)
        elif _end_not_shown(job):
            await self._show_end(job.id)  # the last progress edit waited for the edit gap
        else:
            # Nothing left to do; clear the schedule so the due scan never sees it again.
            await self._update(job.id, next_check_at=None)

    # --- submit ------------------------------------------------------------------------------

    async def _submit(self, job: Job, report: TickReport) -> None:
        if job.id in self._unrecorded:
            return  # the provider gave a task id; only recording it is left (see _record_unrecorded)
        now = self.clock()
        info = self.provider.info
        if job.submit_in_flight and not info.idempotent_submit:
            # A create may have reached the provider before a crash or a lost answer.
            self._warn_unconfirmed(job)
            await self._end(job, JobState.FAILED, "submit_unconfirmed", _UNCONFIRMED, report, billed=True)
            return
        out_of_time = job.accepted_at + self.settings.job_timeout <= now
        out_of_attempts = job.submit_attempts >= self.settings.max_submit_attempts
        # A paid task may exist under this job's key: past the limits the create is still resent
        # (same key, so no second task) to find out, a few times, before the job is given up.
        may_exist = job.submit_in_flight or job.create_unanswered
        if (out_of_time or out_of_attempts) and may_exist:
            if job.submit_attempts >= self.settings.max_submit_attempts + _RESOLVE_ATTEMPTS:
                log.warning(
                    "job create never confirmed %s provider=%s after %d attempts with the same Idempotency-Key;"
                    " member credits released. Check the provider dashboard for a task with key %s.",
                    _who(job),
                    info.name,
                    job.submit_attempts,
                    job.idempotency_key,
                )
                await self._end(job, JobState.FAILED, "submit_unconfirmed", _UNRESOLVED, report, billed=True)
                return
        elif out_of_time:
            await self._end(job, JobState.TIMED_OUT, "timeout", "The provider stayed busy for too long.", report)
            return
        elif out_of_attempts:
            await self._end(
                job, JobState.FAILED, "provider_busy", "The provider stayed busy; please try later.", report
            )
            return

        # Persist "a create may be on the wire" before sending it.
        marked = await self._update(
            job.id,
            expect_state=JobState.ACCEPTED,
            submit_in_flight=True,
            submit_attempts=job.submit_attempts + 1,
            # Fenced: this write is the lease check before the create, and extends it.
            **self._lease_fields(job.id),
        )
        if not marked:
            return  # cancelled meanwhile
        attempt = job.submit_attempts + 1
        public = await self.public_for(job.guild_id) if self.public_for else False
        request = SubmitRequest(
            spec=job.spec,
            idempotency_key=job.idempotency_key,
            callback_url=self.callback_url_for(job) if self.callback_url_for else None,
            public=public,
        )
        try:
            result = await self.provider.submit(request)
        except AmbiguousSubmitError as error:
            if not info.idempotent_submit:
                self._warn_unconfirmed(job, error)
                await self._end(job, JobState.FAILED, "submit_unconfirmed", _UNCONFIRMED, report, billed=True)
                return
            raise self._submit_again(attempt, error, unanswered=True) from None
        except TransientProviderError as error:
            raise self._submit_again(attempt, error) from None
        except ProviderError as error:
            await self._end_for_error(job, error, report)
            return

        await self._record_submitted(job, result, self.clock(), attempt, report)

    async def _record_submitted(
        self, job: Job, result: SubmitResult, created_at: datetime, attempt: int, report: TickReport
    ) -> bool:
        """Write the task id the provider gave; False when it must be tried again.

        If the database refuses (busy or locked past its timeout, disk full), the id is kept in
        memory and written on the next ticks: the job is never mistaken for an unconfirmed create
        and released while a paid task runs at the provider."""
        try:
            estimate = await self.estimate(job.spec)
            first_check = first_check_delay(estimate, self.settings.poll_interval, stretch=self.settings.poll_stretch)
            moved = await self._moved(
                job.id,
                [JobState.ACCEPTED],
                JobState.SUBMITTED,
                provider_task_id=result.task_id,
                submitted_at=created_at,
                submit_in_flight=False,
                create_unanswered=False,
                provider_billed=True,  # both providers charge when the task is created
                provider_charged=result.charged_credits,
                check_attempts=0,
                next_check_at=max(created_at + timedelta(seconds=first_check), self.clock()),
            )
        except Exception as error:
            failures = self._unrecorded_failures.get(job.id, 0) + 1
            self._unrecorded[job.id] = (job, result, created_at, attempt)
            self._unrecorded_failures[job.id] = failures
            # The task id goes to the log too: if the process dies before it is written, the operator
            # can find it. Once, then every so often, so a long outage does not flood the log.
            if failures == 1 or failures % _UNRECORDED_LOG_EVERY == 0:
                log.error(
                    "job created but its task id could not be recorded %s task=%s failures=%d: %s; retrying every tick",
                    _who(job),
                    result.task_id,
                    failures,
                    error,
                )
            return False
        if self._unrecorded_failures.pop(job.id, None):
            log.info("job task id recorded after all %s task=%s", _who(job), result.task_id)
        self._unrecorded.pop(job.id, None)
        if moved is None:
            log.error(
                "job moved while its create was in flight %s task=%s: the provider task is orphaned",
                _who(job),
                result.task_id,
            )
            return True
        report.submitted += 1
        log.info("job submitted %s task=%s attempt=%d", _who(job), result.task_id, attempt)
        await self._progress(job.id, force=True, current=moved)
        return True

    async def _record_unrecorded(self, report: TickReport) -> None:
        for job, result, created_at, attempt in list(self._unrecorded.values()):
            if not await self._record_submitted(job, result, created_at, attempt, report):
                return  # the database still refuses: the others wait for the next tick, not for its timeout each

    def _submit_again(self, attempt: int, error: TransientProviderError, *, unanswered: bool = False) -> Reschedule:
        """A create to send again later; ``unanswered``: it may have made a task (the same key next time)."""
        fields: dict[str, Any] = {"submit_in_flight": False}
        if unanswered:
            fields["create_unanswered"] = True
        delay = backoff_delay(attempt, self.settings.poll_interval, error.retry_after)
        return Reschedule(delay, f"create failed attempt={attempt}", error, JobState.ACCEPTED, fields)

    def _warn_unconfirmed(self, job: Job, error: ProviderError | None = None) -> None:
        log.warning(
            "job create not confirmed %s provider=%s (%s); not resent because the provider has no idempotency"
            " key. Member credits released. Check the provider dashboard for a stray task created around %s.",
            _who(job),
            self.provider.info.name,
            error or "interrupted by a restart",
            job.accepted_at.isoformat(),
        )

    # --- status ------------------------------------------------------------------------------

    async def _check(self, job: Job, report: TickReport) -> None:
        # Past the time limit the provider is still asked first: a render that finished just before
        # it, or while the bot was down, was paid for and is delivered, not thrown away.
        started = job.submitted_at or job.accepted_at
        past_limit = started + self.settings.job_timeout <= self.clock()
        assert job.provider_task_id is not None
        report.checked += 1
        self.stats.status_checks += 1
        await self._hold(job.id, read_only=True)
        try:
            status = await self.provider.status(job.provider_task_id)
        except TaskNotFound as error:
            if job.check_attempts + 1 < _NOT_FOUND_TOLERANCE:
                raise self._check_again(job, error) from None
            await self._end(
                job, JobState.FAILED, "task_not_found", "The provider lost track of the job.", report, billed=False
            )
            return
        except (TransientProviderError, ProviderAuthError) as error:
            # A key problem mid-render may be fixed by the operator; the job keeps its place until timeout.
            if not (past_limit and job.check_attempts + 1 >= _FINAL_CHECK_ATTEMPTS):
                raise self._check_again(job, error) from None
            await self._time_out(job, report)
            return
        except ProviderError as error:
            await self._end_for_error(job, error, report)
            return
        finished = status.state in (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.REFUSED)
        if past_limit and not finished:
            await self._time_out(job, report, _charge_fields(status))
            return
        await self._apply_status(job, status, report)

    def _check_again(self, job: Job, error: ProviderError) -> Reschedule:
        attempt = job.check_attempts + 1
        retry_after = error.retry_after if isinstance(error, TransientProviderError) else None
        delay = backoff_delay(attempt, self.settings.poll_interval, retry_after)
        return Reschedule(delay, "status check failed", error, job.state, {"check_attempts": attempt})

    async def _time_out(self, job: Job, report: TickReport, fields: dict[str, Any] | None = None) -> None:
        # The provider still has the task (and the operator's charge for it): it stays counted.
        minutes = int(self.settings.job_timeout.total_seconds() // 60)
        message = f"The render did not finish within {minutes} minutes."
        await self._end(job, JobState.TIMED_OUT, "timeout", message, report, fields=fields)

    async def _apply_status(self, job: Job, status: TaskStatus, report: TickReport) -> None:
        now = self.clock()
        if status.state is TaskState.SUCCEEDED and status.video_urls:
            refreshed = await self._moved(
                job.id,
                [JobState.SUBMITTED, JobState.RENDERING],
                JobState.SUCCEEDED,
                result_url=status.video_urls[0],
                finished_at=now,
                check_attempts=0,
                next_check_at=now,
                provider_billed=True,
                **_charge_fields(status),
            )
            if refreshed is not None:
                await self._deliver(refreshed, report)
            return
        # Both provider documents: failed (and refused) renders are refunded to the operator.
        charge = _charge_fields(status)
        if status.state is TaskState.SUCCEEDED or status.state is TaskState.FAILED:
            message = _member_text(status.error_message, "The provider could not render this video.")
            await self._end(job, JobState.FAILED, "render_failed", message, report, billed=False, fields=charge)
            return
        if status.state is TaskState.REFUSED:
            message = _member_text(status.error_message, "The provider's content rules refused this prompt.")
            await self._end(
                job,
                JobState.REFUSED,
                "refused",
                message,
                report,
                detail=status.error_message,
                billed=False,
                fields=charge,
            )
            return

        # Still queued, running or an unknown word: look again later.
        estimate = await self.estimate(job.spec)
        rendering_for = (now - (job.submitted_at or job.accepted_at)).total_seconds()
        delay = next_check_delay(
            rendering_for,
            estimate.expected,
            self.settings.poll_interval,
            patience=self.settings.poll_patience,
            stretch=self.settings.poll_stretch,
        )
        new_state = JobState.RENDERING if status.state is TaskState.RUNNING else job.state
        current = await self._moved(
            job.id,
            [job.state],
            new_state,
            check_attempts=0,
            next_check_at=now + timedelta(seconds=delay),
            **_charge_fields(status),
        )
        await self._progress(job.id, force=new_state is not job.state, current=current)

    # --- delivery ----------------------------------------------------------------------------

    async def _deliver(self, job: Job, report: TickReport) -> None:
        if job.state is JobState.SUCCEEDED:
            # Fenced, and extends the lease: the check before the post.
            fresh = await self._moved(job.id, [JobState.SUCCEEDED], JobState.DELIVERING, **self._lease_fields(job.id))
            if fresh is None:
                return
            job = fresh
        elif job.state is JobState.DELIVERING:
            # A post may already have happened before a crash: look before posting again.
            await self._hold(job.id)
            try:
                existing = await self.events.find_delivery(job)
            except DeliveryError as error:
                await self._delivery_failed(job, error, report)
                return
            if existing is not None:
                await self._finish_delivery(job, existing, report, as_link=None)
                return
            await self._hold(job.id)
        else:
            return

        try:
            delivered = await self.events.deliver(job)
        except DeliveryError as error:
            await self._delivery_failed(job, error, report)
            return
        await self._finish_delivery(job, delivered.message_id, report, as_link=delivered.as_link)

    async def _finish_delivery(self, job: Job, message_id: int, report: TickReport, *, as_link: bool | None) -> None:
        now = self.clock()
        moved = await self._moved(
            job.id,
            [JobState.DELIVERING],
            JobState.DELIVERED,
            # The one settlement, in the same unit as the move that only one step can make.
            lambda tx: self.credits.settle_in(tx, job, now),
            result_message_id=message_id,
            delivered_at=now,
            next_check_at=None,
            check_attempts=0,
        )
        if moved is not None:
            report.delivered += 1
            log.info(
                "job delivered %s message=%d link=%s",
                _who(job),
                message_id,
                as_link,
            )
            await self._show_end(job.id, current=moved)

    async def _delivery_failed(self, job: Job, error: DeliveryError, report: TickReport) -> None:
        if error.waiting:
            # The finished video waits (its hold stays open) until the admins fix what it needs.
            raise Reschedule(_WAITING_RETRY_SECONDS, "delivery waits", error.detail, JobState.DELIVERING)
        attempt = job.check_attempts + 1
        if not error.transient or attempt >= _MAX_DELIVERY_ATTEMPTS:
            log.error("job delivery gave up %s: %s; releasing its credits", _who(job), error.detail)
            await self._end(
                job,
                JobState.FAILED,
                "delivery_failed",
                "The video was made but could not be posted here (missing permission or the channel is gone).",
                report,
            )
            return
        delay = backoff_delay(attempt, self.settings.poll_interval)
        raise Reschedule(delay, "delivery failed", error.detail, JobState.DELIVERING, {"check_attempts": attempt})

    # --- endings -----------------------------------------------------------------------------

    async def _end_for_error(self, job: Job, error: ProviderError, report: TickReport) -> None:
        problem = _problem(error)
        outcome = outcome_for(problem)
        if outcome.alert:
            log.error("provider account needs the operator (%s) %s: %s", problem.value, _who(job), error)
            await self._alert(job.guild_id, problem.value, str(error))
        detail = str(error) if outcome.state is JobState.REFUSED else None
        await self._end(job, outcome.state, outcome.code, outcome.member_text, report, detail=detail)

    async def _end(
        self,
        job: Job,
        state: JobState,
        code: str,
        message: str,
        report: TickReport,
        *,
        detail: str | None = None,
        billed: bool | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        """Move an open job to a released state and return its credits, in one transaction.

        A refusal is also recorded for moderators (``detail``: the provider's own words) in that
        same transaction, so it is logged exactly once however the notices fare afterwards.
        ``billed`` says whether the operator's provider account paid for it (None: as recorded so
        far); a released job it paid for still counts against budget caps."""
        assert state.is_released
        now = self.clock()
        extra: dict[str, Any] = dict(fields or {})
        if billed is not None:
            extra["provider_billed"] = billed
        refusals = self.refusals if state is JobState.REFUSED else None

        async def release(tx: Tx) -> None:
            # The one release, and the budgets it frees, in the same unit as the move.
            await self.credits.release_in(tx, job, now, f"{state.value}: {code}")
            if refusals is not None:
                await refusals.record_refusal_in(tx, job, detail, now)

        ended = await self._moved(
            job.id,
            _OPEN_STATES,
            state,
            release,
            finished_at=now,
            error_code=code,
            error_message=message,
            submit_in_flight=False,
            check_attempts=0,
            next_check_at=now,
            **extra,
        )
        if ended is None:
            return
        report.released += 1
        log.info("job released %s state=%s code=%s", _who(job), state.value, code)
        await self._notify_ended(ended)

    async def _notify_ended(self, job: Job, *, may_be_posted: bool = False) -> None:
        await self._hold(job.id)
        try:
            if may_be_posted and await self.events.find_notice(job) is not None:
                log.info("job=%d: the member was already told; not telling again", job.id)
            else:
                await self.events.ended(job)
        except DeliveryError as error:
            attempt = job.check_attempts + 1
            if error.transient and attempt < _MAX_NOTICE_ATTEMPTS:
                delay = backoff_delay(attempt, self.settings.poll_interval)
                raise Reschedule(delay, fields={"check_attempts": attempt}) from None
            log.error("job end notice gave up %s: %s", _who(job), error.detail)
        await self._update(job.id, notified=True, next_check_at=None)
        await self._show_end(job.id)

    # --- helpers -----------------------------------------------------------------------------

    async def _progress(
        self, job_id: int, *, force: bool, queue_position: int | None = None, current: Job | None = None
    ) -> bool:
        """Edit the job's progress message (rate limited unless forced); True when it was edited.

        ``current``: the row as the step's own write just left it (read in that unit), so no read."""
        job = current if current is not None else await self.jobs.get(job_id)
        if job is None or job.progress_message_id is None:
            return False
        if queue_position is not None and job.state is not JobState.ACCEPTED:
            return False  # it left the queue meanwhile; its own step shows the new state
        now = self.clock()
        since_last = (now - job.progress_edited_at).total_seconds() if job.progress_edited_at else None
        if since_last is not None and since_last < MIN_PROGRESS_EDIT_GAP_SECONDS:
            if force and queue_position is None and not job.state.is_terminal and job.progress_edited_at:
                # Shown once the gap has passed (in memory: after a restart the next check shows it).
                self._held_edits[job_id] = job.progress_edited_at + timedelta(seconds=MIN_PROGRESS_EDIT_GAP_SECONDS)
            return False
        if not force and since_last is not None and since_last < self.settings.progress_edit_seconds:
            return False
        try:
            await self.events.progress(job, queue_position=queue_position)
        except Exception:
            log.warning("job progress update failed %s", _who(job), exc_info=True)
            return False
        await self._update(job_id, progress_edited_at=now)
        await self._plan_refresh(job, now)
        return True

    async def _edit_held(self, now: datetime) -> None:
        """Progress edits that wait for no status check: held-back state changes, then bar refreshes.

        At most ``concurrency`` a tick, the most overdue first: they are cosmetic, and a burst of
        edits would only queue behind Discord's rate limits; the rest go out on the next ticks."""
        ready: list[int] = []
        for pending in (self._held_edits, self._refresh_at):
            due = sorted((at, job_id) for job_id, at in pending.items() if at <= now and job_id not in self._busy)
            for _, job_id in due[: max(0, self.settings.concurrency - len(ready))]:
                del pending[job_id]
                if job_id not in ready:
                    ready.append(job_id)
        if ready:
            await asyncio.gather(*(self._progress(job_id, force=True) for job_id in ready))

    async def _plan_refresh(self, job: Job, now: datetime) -> None:
        """After an edit of a rendering job: when its bar next moves, until it says "longer than usual"."""
        self._refresh_at.pop(job.id, None)
        if job.state not in (JobState.SUBMITTED, JobState.RENDERING):
            return
        since = job.submitted_at or job.accepted_at
        finish = since + timedelta(seconds=(await self.estimate(job.spec)).expected)
        if now > finish:
            return  # it says "longer than usual" now; the relative timestamps tick by themselves
        gap = timedelta(seconds=self.settings.progress_edit_seconds)
        floor = timedelta(seconds=MIN_PROGRESS_EDIT_GAP_SECONDS)
        # Also right after the expected finish, so "longer than usual" shows when it becomes true.
        self._refresh_at[job.id] = max(now + floor, min(now + gap, finish + timedelta(seconds=1)))

    async def _show_end(self, job_id: int, *, current: Job | None = None) -> None:
        """The progress message's last edit: one line pointing at the result or saying what happened.

        Within the edit gap of the previous edit, the job is looked at again once the gap has passed
        (a timestamp in SQLite, so a restart does it too); a failed edit is not retried."""
        if await self._progress(job_id, force=True, current=current):
            await self._update(job_id, next_check_at=None)
            return
        job = await self.jobs.get(job_id)
        if job is None or not _end_not_shown(job) or job.progress_edited_at is None:
            return
        allowed_at = job.progress_edited_at + timedelta(seconds=MIN_PROGRESS_EDIT_GAP_SECONDS)
        if allowed_at > self.clock():
            await self._update(job_id, next_check_at=allowed_at)
        else:
            await self._update(job_id, next_check_at=None)

    async def estimate(self, spec: VideoSpec) -> RenderEstimate:
        """What recent renders of this shape say about the next one (cached a minute per shape)."""
        key = (spec.mode.value, spec.duration, spec.resolution)
        cached = self._history.get(key)
        now = self.clock().timestamp()  # the bot's clock, so virtual time in tests and benches ages it too
        if cached is not None and now - cached[1] < _HISTORY_TTL_SECONDS:
            return cached[0]
        history = await self.jobs.recent_render_seconds(spec)
        estimate = estimate_render(history, self.provider.expected_render_seconds(spec))
        self._history[key] = (estimate, now)
        return estimate

    async def _alert(self, guild_id: int, code: str, detail: str) -> None:
        if self.alerts is None:
            return
        try:
            await self.alerts.provider_problem(guild_id, code, detail)
        except Exception:
            log.warning("could not alert admins about %s", code, exc_info=True)


def _charge_fields(status: TaskStatus) -> dict[str, Any]:
    """The provider's own figures for what it charged and refunded, for the job's row, when it said."""
    fields: dict[str, Any] = {}
    if status.charged_credits is not None:
        fields["provider_charged"] = status.charged_credits
    if status.refunded_credits is not None:
        fields["provider_refunded"] = status.refunded_credits
    return fields


_UNRESOLVED = "The provider never confirmed the job, though the bot asked again several times. Your credits are back."
_UNCONFIRMED = (
    "The provider did not confirm the job, so it was not sent again (that could have charged twice). Please try again."
)


def _problem(error: ProviderError) -> ProviderProblem:
    """Which row of the domain's outcome table a provider's error is."""
    if isinstance(error, ProviderRefused):
        return ProviderProblem.REFUSED
    if isinstance(error, ProviderOutOfCredits):
        return ProviderProblem.OUT_OF_CREDITS
    if isinstance(error, ProviderAuthError):
        return ProviderProblem.AUTH
    if isinstance(error, ProviderRejectedRequest):
        return ProviderProblem.REJECTED
    return ProviderProblem.OTHER
