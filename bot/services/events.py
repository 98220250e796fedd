"""What the job runner needs from the outside world to show a job to people.

Implemented by the Discord adapter (``bot.exts.video._delivery``); the runner never imports discord.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain.models import Job
from bot.storage.db import Tx


@dataclass(frozen=True, slots=True)
class Delivered:
    message_id: int
    as_link: bool


class DeliveryError(Exception):
    """Posting a result or notice failed. ``transient`` errors are retried with backoff.

    ``waiting``: nothing is wrong with the job, it waits for something admins fix (an unusable
    review channel); it is tried again later without counting towards giving up."""

    def __init__(self, detail: str, *, transient: bool, waiting: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.transient = transient
        self.waiting = waiting


class JobEvents(Protocol):
    async def progress(self, job: Job, *, queue_position: int | None = None) -> None:
        """Show the job's current state, and its place in line while it waits for the provider
        (best effort; failures are logged, never retried)."""
        ...

    async def deliver(self, job: Job) -> Delivered:
        """Post the finished video. Raises DeliveryError."""
        ...

    async def find_delivery(self, job: Job) -> int | None:
        """After a crash mid-delivery: the id of a result message already posted for this job, if any."""
        ...

    async def ended(self, job: Job) -> None:
        """Tell the member their job ended without a video, and that the credits are back. Raises DeliveryError."""
        ...

    async def find_notice(self, job: Job) -> int | None:
        """Before telling a member again: the id of an end notice already posted for this job, if any."""
        ...


class OperatorAlerts(Protocol):
    async def provider_problem(self, guild_id: int, code: str, detail: str) -> None:
        """The operator's provider account needs attention (bad key, out of credits)."""
        ...


class RefusalLog(Protocol):
    async def record_refusal_in(self, tx: Tx, job: Job, detail: str | None, at: datetime) -> None:
        """The provider's moderation refused a job: record it for moderators, in the job's own transaction."""
        ...
