"""Credits: allowances, lazy refills, grants, and the hold → settle | release path of a job.

Every function that moves money takes the open transaction it belongs to (``*_in``), so the
caller writes the job row and its ledger entry together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.domain.clock import Clock
from bot.domain.models import Balance, Job, LedgerEntry, LedgerKind
from bot.domain.moderation import AuditAction
from bot.domain.periods import Period, next_refill, period_key
from bot.domain.validation import validate_reason
from bot.errors import InvalidRequest
from bot.storage.audit import AuditRepository
from bot.storage.db import Database, Tx, member_lock
from bot.storage.jobs import JobRepository, NewJob
from bot.storage.ledger import LedgerRepository
from bot.storage.spend import SpendRepository

log = logging.getLogger(__name__)

MAX_GRANT = 1_000_000


@dataclass(frozen=True, slots=True)
class MemberContext:
    """What the bot knows about a member when they act, without any Discord type."""

    member_id: int
    role_ids: tuple[int, ...] = ()
    joined_at: datetime | None = None
    account_created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Allowance:
    amount: int
    period: Period
    source: str  # "default", or "role:<id>" when a role's allowance applies
    note: str | None = None  # why the allowance is what it is (e.g. too new to the server)
    # Set while the member is too new (account or membership) to get an allowance: when they will.
    qualifies_at: datetime | None = None

    @property
    def qualified(self) -> bool:
        return self.qualifies_at is None


class AllowancePolicy(Protocol):
    async def allowance_in(self, tx: Tx, guild_id: int, member: MemberContext, now: datetime) -> Allowance: ...


@dataclass(frozen=True, slots=True)
class FixedAllowancePolicy:
    """One allowance for everyone, for tests; the bot uses ``bot.services.allowances.GuildAllowancePolicy``."""

    amount: int
    period: Period

    async def allowance_in(self, tx: Tx, guild_id: int, member: MemberContext, now: datetime) -> Allowance:
        return Allowance(amount=self.amount, period=self.period, source="default")


@dataclass(frozen=True, slots=True)
class CreditOverview:
    balance: Balance
    allowance: Allowance
    next_refill: datetime | None
    recent: list[LedgerEntry] = field(default_factory=list)


class CreditService:
    def __init__(
        self,
        db: Database,
        ledger: LedgerRepository,
        policy: AllowancePolicy,
        clock: Clock,
        audit: AuditRepository | None = None,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.policy = policy
        self.clock = clock
        # Grants are admin actions: with an audit log, each is recorded in the grant's own transaction.
        self.audit = audit

    # --- refills ---------------------------------------------------------------------------

    async def refill_in(self, tx: Tx, guild_id: int, member: MemberContext, now: datetime) -> Allowance:
        return (await self.refill_balance_in(tx, guild_id, member, now))[0]

    async def refill_balance_in(
        self, tx: Tx, guild_id: int, member: MemberContext, now: datetime
    ) -> tuple[Allowance, Balance]:
        """Top the member up to their allowance once per period, the first time they show up in it.

        Held credits count as spent for the top-up, so a job released after a refill can never
        lift a member above their allowance by more than that job's price. A zero refill is still
        written: it marks the period as done, and the unique index makes a second one impossible.
        """
        # The member's money lock, first of the money locks (see Tx.lock). Every transaction that
        # reads the balance to decide starts here (a hold, a revoke), so the balance it reads stays
        # true until it commits, and two processes never both see "no refill yet".
        await tx.lock(member_lock(guild_id, member.member_id))
        allowance = await self.policy.allowance_in(tx, guild_id, member, now)
        key = period_key(allowance.period, now)
        # The balance is read once, with whether this period's refill is written; after a refill it
        # is derived, not read again.
        balance, refilled = await self.ledger.balance_and_refill_in(tx, guild_id, member.member_id, key)
        if not allowance.qualified:
            # No refill row yet: the period stays open, so the member is topped up in the same
            # period the moment they qualify instead of waiting for the next one.
            return allowance, balance
        if refilled:
            return allowance, balance
        amount = max(0, allowance.amount - balance.available - balance.held)
        await self.ledger.append(
            tx,
            guild_id=guild_id,
            member_id=member.member_id,
            kind=LedgerKind.REFILL,
            amount=amount,
            at=now,
            reason=f"{allowance.period} allowance ({allowance.source})",
            period=key,
        )
        return allowance, Balance(available=balance.available + amount, held=balance.held)

    async def balance(self, guild_id: int, member: MemberContext) -> Balance:
        now = self.clock()
        async with self.db.transaction() as tx:
            await self.refill_in(tx, guild_id, member, now)
            return await self.ledger.balance_in(tx, guild_id, member.member_id)

    async def overview(self, guild_id: int, member: MemberContext, *, entries: int = 10) -> CreditOverview:
        now = self.clock()
        async with self.db.transaction() as tx:
            allowance = await self.refill_in(tx, guild_id, member, now)
            balance = await self.ledger.balance_in(tx, guild_id, member.member_id)
        recent = await self.ledger.recent(guild_id, member.member_id, entries)
        upcoming = next_refill(allowance.period, now) if allowance.qualified else allowance.qualifies_at
        return CreditOverview(balance, allowance, upcoming, recent)

    # --- grants ----------------------------------------------------------------------------

    async def grant(
        self, guild_id: int, member: MemberContext, amount: int, *, actor_id: int, reason: str | None
    ) -> Balance:
        """A one-off grant (negative revokes). Revoking never takes a balance below zero."""
        validate_reason(reason)
        if amount == 0:
            raise InvalidRequest("The amount must not be zero. Use a positive number to grant, negative to revoke.")
        if abs(amount) > MAX_GRANT:
            raise InvalidRequest(f"The amount must be between -{MAX_GRANT:,} and {MAX_GRANT:,}.")
        now = self.clock()
        async with self.db.transaction() as tx:
            await self.refill_in(tx, guild_id, member, now)
            balance = await self.ledger.balance_in(tx, guild_id, member.member_id)
            if balance.available + amount < 0:
                raise InvalidRequest(
                    f"That would take the balance below zero: the member has {balance.available} credits "
                    f"available. Revoke at most {balance.available}."
                )
            await self.ledger.append(
                tx,
                guild_id=guild_id,
                member_id=member.member_id,
                kind=LedgerKind.GRANT,
                amount=amount,
                at=now,
                actor_id=actor_id,
                reason=reason,
            )
            if self.audit is not None:
                await self.audit.record_in(
                    tx,
                    guild_id=guild_id,
                    actor_id=actor_id,
                    action=AuditAction.GRANT,
                    at=now,
                    target_member_id=member.member_id,
                    reason=reason,
                    detail=f"{amount:+d} credits",
                )
            return await self.ledger.balance_in(tx, guild_id, member.member_id)

    # --- job money -------------------------------------------------------------------------

    async def refund_in(self, tx: Tx, job: Job, *, actor_id: int, reason: str | None, at: datetime) -> int | None:
        """Give back what a delivered job kept, as one 'adjust' entry naming the job; the amount, or
        None when it was already refunded. The unique index ``ledger_one_refund`` makes a second
        refund impossible even if two callers race past the check; the member lock makes the
        second caller wait and see the first one's refund instead of failing on that index."""
        await tx.lock(member_lock(job.guild_id, job.member_id))
        settlement = await self.ledger.job_settlement(tx, job.id)
        if settlement is None or settlement.kind is not LedgerKind.SETTLE:
            raise InvalidRequest(f"Job #{job.id} was not delivered, so nothing was kept to refund.")
        if await self.ledger.job_refund(tx, job.id) is not None:
            return None
        await self.ledger.append(
            tx,
            guild_id=job.guild_id,
            member_id=job.member_id,
            kind=LedgerKind.ADJUST,
            amount=settlement.amount,
            at=at,
            job_id=job.id,
            actor_id=actor_id,
            reason=reason or "refund",
        )
        return settlement.amount

    async def hold_in(self, tx: Tx, *, guild_id: int, member_id: int, job_id: int, amount: int, at: datetime) -> None:
        await self.ledger.append(
            tx, guild_id=guild_id, member_id=member_id, kind=LedgerKind.HOLD, amount=amount, at=at, job_id=job_id
        )
        # A job counts against budgets from its hold (bot.storage.spend).
        await SpendRepository.moved_in(tx, guild_id, amount, at)

    async def hold_new_job_in(self, tx: Tx, new: NewJob) -> int:
        """Insert an accepted job and hold its price; the job's id.

        On PostgreSQL the job, its hold and the budget totals' move are one statement (data-modifying
        CTEs: one round trip instead of three, all or nothing like any statement). On SQLite the
        same three writes are three statements in the same unit: no round trips to save there.
        """
        if not self.db.dialect.writable_ctes:
            job_id = await JobRepository.insert_new_in(tx, new)
            await self.hold_in(
                tx, guild_id=new.guild_id, member_id=new.member_id, job_id=job_id, amount=new.price, at=new.accepted_at
            )
            return job_id
        return await self.ledger.insert_held_job_in(tx, new)

    async def settle_in(self, tx: Tx, job: Job, at: datetime) -> None:
        """Keep the held credits: the video was delivered."""
        await self._settle_in(tx, job, LedgerKind.SETTLE, at, "delivered")

    async def release_in(self, tx: Tx, job: Job, at: datetime, reason: str) -> None:
        """Return the held credits: the job ended without a delivered video."""
        await self._settle_in(tx, job, LedgerKind.RELEASE, at, reason)

    async def _settle_in(self, tx: Tx, job: Job, kind: LedgerKind, at: datetime, reason: str) -> None:
        # The billed flag is read from the row, because the release's own transition may just have set it.
        hold, existing, billed = await self.ledger.hold_and_settlement_in(tx, job.id)
        if hold is None:
            log.error("job %d has no hold to %s", job.id, kind.value)
            return
        if existing is not None:
            # The state machine should make this unreachable; the unique index would refuse it anyway.
            log.error("job %d was already settled (%s); not settling again", job.id, existing.kind.value)
            return
        await self.ledger.append(
            tx,
            guild_id=job.guild_id,
            member_id=job.member_id,
            kind=kind,
            amount=hold.amount,
            at=at,
            job_id=job.id,
            reason=reason,
        )
        if kind is LedgerKind.RELEASE and not billed:
            # The provider did not charge for it: its share of the budgets is free again.
            await SpendRepository.moved_in(tx, job.guild_id, -hold.amount, hold.created_at)

    # --- reads other services need (the one door to money: nothing else calls the ledger) ------

    async def balance_in(self, tx: Tx, guild_id: int, member_id: int) -> Balance:
        return await self.ledger.balance_in(tx, guild_id, member_id)

    async def job_refund_in(self, tx: Tx, job_id: int) -> LedgerEntry | None:
        """The refund of a delivered job, if a moderator or a rejection gave one."""
        return await self.ledger.job_refund(tx, job_id)

    async def refunded_jobs(self, job_ids: Sequence[int]) -> set[int]:
        return await self.ledger.refunded_jobs(job_ids)
