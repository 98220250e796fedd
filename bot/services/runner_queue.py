"""Queue admission: which waiting jobs go to the provider now, and the places in line shown.

Jobs waiting for the provider (state ``accepted``) are not in the due scan: each tick reads the
queue (``JobRepository.waiting``, round robin between members) and sends the first jobs that fit
under ``max_in_flight``, the number of jobs at the provider at once across all servers. The rest
keep their place, and their progress messages show it (edited only when the place changes).

Across processes the limit is global: admission reads the jobs in flight and the queue, and
claims the jobs it sends, in one transaction under a transaction-level advisory lock, so only one
process admits at a time and a job it admitted counts as in flight for every other one (its lease
on a due queued job) until the create is marked on the wire.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.domain.models import Job
from bot.storage.db import Database, Tx
from bot.storage.jobs import JobRepository

QUEUE_DISPATCH_LOCK: tuple[object, ...] = ("queue-dispatch",)


class QueueAdmission:
    def __init__(
        self, db: Database, jobs: JobRepository, *, max_in_flight: int, job_timeout: timedelta, refresh_seconds: float
    ):
        self.db = db
        self.jobs = jobs
        self.max_in_flight = max_in_flight
        self.job_timeout = job_timeout
        self.refresh_seconds = refresh_seconds
        # Queue positions last shown per waiting job, so a message is edited only when its place changes.
        self._shown: dict[int, int] = {}
        self._read_at: datetime | None = None

    async def admit(
        self, now: datetime, *, owner: str, until: datetime, busy: set[int]
    ) -> tuple[list[Job], list[Job] | None]:
        """The jobs to send now, claimed for ``owner`` (their ``lease_epoch`` is the claim's), and the
        jobs still waiting in order, or ``None`` when the queue was not read (places stay as shown).

        Ordering the queue reads every open job, so a tick does it only when a job waits and either a
        provider slot is free or the shown places are due a refresh: an idle tick stays one index
        probe plus the due scan, however many jobs are in flight. ``busy``: this process's jobs whose
        steps still run; they are neither claimed again nor shown as waiting.
        """
        if not await self.jobs.has_waiting():
            self._read_at = None
            return [], []
        refresh_due = self._read_at is None or (now - self._read_at).total_seconds() >= self.refresh_seconds
        if not refresh_due and await self.jobs.in_flight() >= self.max_in_flight:
            return [], None
        self._read_at = now

        async def admission(tx: Tx) -> tuple[list[Job], list[Job], dict[int, int]]:
            await tx.lock(QUEUE_DISPATCH_LOCK)
            in_flight = await self.jobs.in_flight_in(tx, now, owner)
            queue = await self.jobs.waiting_in(tx)
            mine = [job for job in queue if job.id in busy]
            # Ours still being sent hold a slot unless the database counts them already.
            in_flight += sum(1 for job in mine if not (job.submit_in_flight or job.create_unanswered))
            free = [job for job in queue if job.id not in busy and not self._held_elsewhere(job, owner, now)]
            to_send, waiting = self.take(free, in_flight, now)
            claimed = await self.jobs.claim_in(tx, [job.id for job in to_send], owner=owner, until=until, now=now)
            return to_send, waiting, claimed

        # One unit: the queue read, the slots counted and the claims, in one hop.
        to_send, waiting, claimed = await self.db.run(admission)
        sent = [replace(job, lease_owner=owner, lease_epoch=claimed[job.id]) for job in to_send if job.id in claimed]
        return sent, waiting

    def _held_elsewhere(self, job: Job, owner: str, now: datetime) -> bool:
        """Another live process is sending this job (its place in line is over)."""
        if self.db.sole_process or job.lease_until is None or job.lease_owner == owner:
            return False
        return job.lease_until > now

    def take(self, queue: list[Job], in_flight: int, now: datetime) -> tuple[list[Job], list[Job]]:
        """Split the queue (already in round-robin order) into jobs to step now and jobs that wait.

        A job whose create may be on the wire already holds a slot (it is counted in ``in_flight``)
        and is stepped to resolve it; a job past its timeout is stepped to end it; otherwise the
        first due jobs take the free slots. A job backing off after a 429 keeps its place without
        holding a slot, so the jobs behind it go first.
        """
        free = max(0, self.max_in_flight - in_flight)
        to_send: list[Job] = []
        waiting: list[Job] = []
        for job in queue:
            due = job.next_check_at is not None and job.next_check_at <= now
            if job.submit_in_flight or job.accepted_at + self.job_timeout <= now:
                to_send.append(job)
            elif due and job.create_unanswered:
                to_send.append(job)  # resolving a create that may have made a task: it holds a slot already
            elif due and free > 0:
                to_send.append(job)
                free -= 1
            else:
                waiting.append(job)
        return to_send, waiting

    def changed_places(self, waiting: list[Job]) -> list[tuple[Job, int]]:
        """Waiting jobs whose place in line differs from what their progress message shows."""
        positions = {job.id: index for index, job in enumerate(waiting, start=1)}
        for job_id in list(self._shown):
            if job_id not in positions:
                del self._shown[job_id]
        return [
            (job, positions[job.id])
            for job in waiting
            if job.progress_message_id is not None and self._shown.get(job.id) != positions[job.id]
        ]

    def first_shown(self, job_id: int) -> bool:
        """No place was shown for this job yet (the first one goes out at once, past the refresh gap)."""
        return job_id not in self._shown

    def shown(self, job_id: int, position: int) -> None:
        self._shown[job_id] = position

    def read_again(self) -> None:
        """A first place was held back by the edit gap: read the queue again next tick."""
        self._read_at = None
