"""Accepting, cancelling and listing jobs: the member-facing side of a job's life.

Acceptance is the one place credits are held: every check runs first, then one transaction
writes the job and its hold, so there is never a job without a hold or a hold without a job.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from bot.domain.clock import Clock, from_ts, to_ts
from bot.domain.models import Balance, Job, JobState, VideoSpec
from bot.domain.pricing import PriceList, needs_confirmation, price_of
from bot.errors import Conflict, InsufficientCredits, NotFound, NotPermitted, UserFacingError
from bot.services.credits import CreditService, MemberContext
from bot.storage.db import Database, IntegrityError, Tx, member_lock
from bot.storage.jobs import JobRepository, NewJob

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JobRequest:
    guild_id: int
    channel_id: int
    member: MemberContext
    spec: VideoSpec
    parent_job_id: int | None = None
    # For a thread: the channel it belongs to (a server's allowed channels include their threads).
    parent_channel_id: int | None = None
    # The Discord interaction that asked: one job per interaction, whichever process receives it.
    interaction_id: int | None = None
    # The server's upload limit as the accepting process sees it, recorded on the job (any process delivers).
    upload_limit_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    price: int
    balance: Balance  # before the hold

    @property
    def balance_after(self) -> int:
        return self.balance.available - self.price


@dataclass(frozen=True, slots=True)
class Accepted:
    job: Job
    balance: Balance  # after the hold


class RequestCheck(Protocol):
    """A refusal that needs no money and no transaction (block list, channel, prompt rules, cooldown)."""

    async def check(self, request: JobRequest) -> None: ...


class HoldGuard(Protocol):
    """A refusal that must be decided in the same transaction as the hold (budgets, running-job limits)."""

    async def check_in(self, tx: Tx, request: JobRequest, price: int, now: datetime) -> None: ...


class RefusalListener(Protocol):
    """Hears refusals after their transaction rolled back (to tell admins about a reached cap)."""

    async def refused(self, request: JobRequest, error: UserFacingError) -> None: ...


def new_idempotency_key() -> str:
    # Random, not derived from the row id: a fresh database reuses ids, and a provider that
    # remembers keys must never hand back an old task for a new job.
    return f"wanbot-{secrets.token_hex(16)}"


def new_callback_token() -> str:
    # 192 random bits, URL-safe: the only thing that makes a callback URL unforgeable.
    return secrets.token_urlsafe(24)


class JobService:
    def __init__(
        self,
        *,
        db: Database,
        jobs: JobRepository,
        credits: CreditService,
        prices: PriceList,
        provider_name: str,
        clock: Clock,
        request_checks: Sequence[RequestCheck] = (),
        hold_guards: Sequence[HoldGuard] = (),
        refusal_listeners: Sequence[RefusalListener] = (),
        confirm_above: int | None = None,
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.credits = credits
        self.prices = prices
        self.confirm_above = confirm_above  # None: never ask
        self.provider_name = provider_name
        self.clock = clock
        # Given by the builder, in order: refusals that need no transaction first, cheapest and most
        # final first; then the ones decided with the hold; then who hears a refusal.
        self.request_checks: list[RequestCheck] = list(request_checks)
        self.hold_guards: list[HoldGuard] = list(hold_guards)
        self.refusal_listeners: list[RefusalListener] = list(refusal_listeners)

    def price(self, spec: VideoSpec) -> int:
        return price_of(self.prices, spec)

    def needs_confirmation(self, spec: VideoSpec) -> bool:
        """Whether this job is only quoted until the member presses Confirm (priced above the threshold)."""
        return needs_confirmation(self.price(spec), self.confirm_above)

    async def run_checks(self, request: JobRequest) -> None:
        for check in self.request_checks:
            await check.check(request)

    async def quote(self, request: JobRequest) -> Quote:
        """Price and balance without holding anything: what a confirm prompt shows.

        Runs every check the hold will run (they are run again, atomically, on confirm), so a
        member is never asked to confirm a job that would be refused anyway.
        """
        price = self.price(request.spec)
        try:
            await self.run_checks(request)
            now = self.clock()

            async def checked(tx: Tx) -> Balance:
                return await self._checked_in(tx, request, price, now)

            balance = await self.db.run(checked)
        except UserFacingError as error:
            await self._refused(request, error)
            raise
        return Quote(price=price, balance=balance)

    async def _checked_in(self, tx: Tx, request: JobRequest, price: int, now: datetime) -> Balance:
        """Refill, then every in-transaction refusal; the balance before the hold."""
        # First of the money locks (member, then budgets: see Tx.lock): the balance read here
        # stays true until this transaction's hold is written, whichever process holds next.
        await tx.lock(member_lock(request.guild_id, request.member.member_id))
        allowance, balance = await self.credits.refill_balance_in(tx, request.guild_id, request.member, now)
        for guard in self.hold_guards:
            await guard.check_in(tx, request, price, now)
        if balance.available < price:
            message = _insufficient_message(price, balance, allowance.qualifies_at)
            raise InsufficientCredits(message, price=price, available=balance.available)
        return balance

    async def _refused(self, request: JobRequest, error: UserFacingError) -> None:
        for listener in self.refusal_listeners:
            try:
                await listener.refused(request, error)
            except Exception:
                log.exception("a refusal listener failed")

    async def accept(self, request: JobRequest) -> Accepted:
        try:
            return await self._accept(request)
        except UserFacingError as error:
            await self._refused(request, error)
            raise

    async def _accept(self, request: JobRequest) -> Accepted:
        try:
            return await self._accept_once(request)
        except IntegrityError:
            # Another process inserted a job for this interaction first; this unit held nothing.
            if request.interaction_id is not None:
                made = await self.jobs.by_interaction(request.interaction_id)
                _already_made(None if made is None else made.id)
            raise

    async def _accept_once(self, request: JobRequest) -> Accepted:
        await self.run_checks(request)
        price = self.price(request.spec)
        now = self.clock()
        member_id = request.member.member_id

        # Everything that needs no database is done before the unit: in a burst every unit waits for
        # the whole batch to run, so each microsecond inside one is paid by every command in it.
        new = NewJob(
            guild_id=request.guild_id,
            channel_id=request.channel_id,
            member_id=member_id,
            spec=request.spec,
            price=price,
            provider=self.provider_name,
            idempotency_key=new_idempotency_key(),
            accepted_at=now,
            next_check_at=now,
            parent_job_id=request.parent_job_id,
            callback_token=new_callback_token(),
            interaction_id=request.interaction_id,
            upload_limit_bytes=request.upload_limit_bytes,
        )

        # One unit of work, handed to storage in one call: the refill, the checks, the job and its
        # hold commit together or not at all. The job is built from what was inserted and the
        # balance after is derived from the one read before: nothing is read back.
        async def accept_in(tx: Tx) -> tuple[int, Balance]:
            # Discord may hand one interaction to two processes (a session handover): the second
            # says the job is already being made, and holds nothing.
            if request.interaction_id is not None:
                _already_made(await self.jobs.id_for_interaction_in(tx, request.interaction_id))
            before = await self._checked_in(tx, request, price, now)
            return await self.credits.hold_new_job_in(tx, new), before

        job_id, before = await self.db.run(accept_in)
        job = new.accepted(job_id)
        accepted = Accepted(job=job, balance=Balance(available=before.available - price, held=before.held + price))
        log.info(
            "job accepted job=%d guild=%d member=%d mode=%s price=%d",
            job.id,
            job.guild_id,
            job.member_id,
            job.spec.mode.value,
            price,
        )
        return accepted

    async def attach_progress_message(self, job_id: int, message_id: int) -> None:
        now = self.clock()

        async def attach_in(tx: Tx) -> None:
            await self.jobs.attach_progress_message_in(tx, job_id, message_id, now)

        await self.db.run(attach_in)

    async def get(self, job_id: int) -> Job:
        job = await self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"There is no job #{job_id}.")
        return job

    async def get_in_guild(self, guild_id: int, job_id: int) -> Job:
        job = await self.jobs.get(job_id)
        if job is None or job.guild_id != guild_id:
            raise NotFound(f"There is no job #{job_id} in this server.")
        return job

    async def recent(self, guild_id: int, member_id: int, limit: int = 10) -> list[Job]:
        return await self.jobs.for_member(guild_id, member_id, limit)

    async def cancel(self, guild_id: int, job_id: int, member_id: int) -> Job:
        """Cancel a job that has not been sent to the provider yet; its credits come back at once."""
        now = self.clock()

        # One unit of work: the state change and the release commit together.
        async def cancel_in(tx: Tx) -> Job:
            job = await self.jobs.get_in(tx, job_id)
            if job is None or job.guild_id != guild_id:
                raise NotFound(f"There is no job #{job_id} in this server.")
            if job.member_id != member_id:
                raise NotPermitted("You can only cancel your own jobs.")
            # The runner marks submit_in_flight in its own transaction before calling the provider,
            # and transactions are serialized, so this check cannot race with a submit.
            if job.state is JobState.ACCEPTED and job.create_unanswered and not job.submit_in_flight:
                # Cancelling now could leave a paid task at the provider that nobody follows.
                raise Conflict(
                    f"Job #{job_id} can't be cancelled now: the provider did not answer when it was sent, so it "
                    "may already be making it. The bot is asking again with the same request (that never charges "
                    "twice): you get the video, or your credits back if it was never made."
                )
            if not job.cancellable:
                raise Conflict(f"Job #{job_id} is already {job.state.label} and can no longer be cancelled.")
            moved = await self.jobs.transition(
                tx,
                job_id,
                [JobState.ACCEPTED],
                JobState.CANCELLED,
                finished_at=now,
                error_code="cancelled",
                error_message="Cancelled by you before it was sent.",
                next_check_at=now,
            )
            if not moved:
                raise Conflict(f"Job #{job_id} can no longer be cancelled.")
            await self.credits.release_in(tx, job, now, "cancelled by member")
            return replace(
                job,
                state=JobState.CANCELLED,
                finished_at=from_ts(to_ts(now)),
                error_code="cancelled",
                error_message="Cancelled by you before it was sent.",
                next_check_at=from_ts(to_ts(now)),
            )

        cancelled = await self.db.run(cancel_in)
        log.info("job cancelled job=%d guild=%d member=%d", job_id, guild_id, member_id)
        return cancelled


def _insufficient_message(price: int, balance: Balance, qualifies_at: datetime | None = None) -> str:
    held = f" ({balance.held} more are held by your running jobs)" if balance.held else ""
    if qualifies_at is not None:
        # Anti-farming: say when, so a new member knows this is not a mistake.
        return (
            f"This video costs {price} credits and you have {balance.available} available{held}. New accounts "
            f"and new members get an allowance after a while: yours starts on "
            f"{qualifies_at.strftime('%Y-%m-%d %H:%M UTC')}. An admin can also give you a grant."
        )
    return (
        f"This video costs {price} credits and you have {balance.available} available{held}. "
        "Try a shorter duration or 720p, wait for your next refill, or ask an admin for a grant."
    )


def _already_made(job_id: int | None) -> None:
    if job_id is not None:
        raise Conflict(f"This request is already being made: job #{job_id}. Nothing more was charged.")
