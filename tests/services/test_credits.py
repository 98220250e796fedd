"""The ledger and its invariants: holds under concurrency, one settlement per job, refills once per period."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.domain.models import JobState, LedgerKind
from bot.errors import InsufficientCredits, InvalidRequest
from bot.services.credits import MemberContext
from bot.storage.db import Database, IntegrityError
from tests.backends import Backend
from tests.support import GUILD, Core, ManualClock, build_core, request, spec

ALICE = MemberContext(1)


async def test_first_visit_refills_to_the_allowance(core: Core) -> None:
    balance = await core.credits.balance(GUILD, ALICE)
    assert (balance.available, balance.held) == (500, 0)
    # A second look in the same period writes nothing more.
    await core.credits.balance(GUILD, ALICE)
    entries = await core.ledger.entries(GUILD)
    assert [(e.kind, e.amount) for e in entries] == [(LedgerKind.REFILL, 500)]


async def test_hundred_concurrent_holds_against_a_balance_for_three(db: Database, clock: ManualClock) -> None:
    core = build_core(db, clock, allowance=3 * 80 + 79)  # 319: covers three 80-credit jobs, not four
    results = await asyncio.gather(
        *(core.jobs.accept(request(ALICE.member_id)) for _ in range(100)), return_exceptions=True
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert len(accepted) == 3
    assert len(refused) == 97
    balance = await core.ledger.balance(GUILD, ALICE.member_id)
    assert (balance.available, balance.held) == (79, 240)
    assert all(r.balance.available >= 0 for r in accepted)


async def test_concurrent_holds_across_two_connections(tmp_path: Path, clock: ManualClock, backend: Backend) -> None:
    """Two connections to one database (two pools on PostgreSQL) still cannot overspend."""
    target = backend.target(tmp_path)
    first, second = await Database.open(target), await Database.open(target)
    try:
        a, b = build_core(first, clock, allowance=400), build_core(second, clock, allowance=400)
        await a.credits.balance(GUILD, ALICE)
        attempts = [(a if i % 2 else b).jobs.accept(request(ALICE.member_id)) for i in range(20)]
        results = await asyncio.gather(*attempts, return_exceptions=True)
        assert sum(not isinstance(r, BaseException) for r in results) == 5
        assert (await a.ledger.balance(GUILD, ALICE.member_id)).available == 0
    finally:
        await first.close()
        await second.close()


async def test_insufficient_balance_says_what_to_change_and_costs_nothing(core: Core) -> None:
    await core.jobs.accept(request(ALICE.member_id, spec(duration=15, resolution="1080p")))  # 325 of 500
    with pytest.raises(InsufficientCredits) as caught:
        await core.jobs.accept(request(ALICE.member_id, spec(duration=15, resolution="1080p")))
    assert "costs 325 credits" in caught.value.message and "175 available" in caught.value.message
    assert (await core.ledger.balance(GUILD, ALICE.member_id)).available == 175
    assert len(await core.jobs.recent(GUILD, ALICE.member_id)) == 1


async def test_each_job_settles_exactly_once(core: Core) -> None:
    accepted = await core.jobs.accept(request(ALICE.member_id))
    job = accepted.job
    async with core.db.transaction() as tx:
        await core.credits.settle_in(tx, job, core.clock())
    async with core.db.transaction() as tx:
        await core.credits.release_in(tx, job, core.clock(), "second try")  # ignored, logged
    settlements = [e for e in await core.ledger.entries(GUILD) if e.kind in (LedgerKind.SETTLE, LedgerKind.RELEASE)]
    assert [(e.kind, e.amount) for e in settlements] == [(LedgerKind.SETTLE, 80)]
    # And SQLite itself refuses a second settlement row, whatever the code does.
    with pytest.raises(IntegrityError):
        async with core.db.transaction() as tx:
            await core.ledger.append(
                tx, guild_id=GUILD, member_id=1, kind=LedgerKind.RELEASE, amount=80, at=core.clock(), job_id=job.id
            )


async def test_ledger_is_append_only(core: Core) -> None:
    await core.credits.balance(GUILD, ALICE)
    with pytest.raises(IntegrityError, match="append-only"):
        async with core.db.transaction() as tx:
            await tx.execute("UPDATE ledger SET amount = 99999")
    with pytest.raises(IntegrityError, match="append-only"):
        async with core.db.transaction() as tx:
            await tx.execute("DELETE FROM ledger")


async def test_refill_tops_up_once_per_period_and_never_stacks(core: Core) -> None:
    await core.jobs.accept(request(ALICE.member_id))  # 80 held, 420 available
    accepted = await core.jobs.accept(request(ALICE.member_id))
    async with core.db.transaction() as tx:
        await core.credits.settle_in(tx, accepted.job, core.clock())  # 80 spent
    core.clock.advance(7 * 86400)  # next ISO week
    balances = await asyncio.gather(*(core.credits.balance(GUILD, ALICE) for _ in range(20)))
    # Top-up counts held credits as used: 500 - 340 available - 80 held = 80 refilled, once.
    assert {(b.available, b.held) for b in balances} == {(420, 80)}
    refills = [e for e in await core.ledger.entries(GUILD) if e.kind is LedgerKind.REFILL]
    assert [e.amount for e in refills] == [500, 80]


async def test_grants_stack_and_revokes_stop_at_zero(core: Core) -> None:
    balance = await core.credits.grant(GUILD, ALICE, 250, actor_id=9, reason="event prize")
    assert balance.available == 750
    with pytest.raises(InvalidRequest, match="below zero"):
        await core.credits.grant(GUILD, ALICE, -751, actor_id=9, reason=None)
    assert (await core.credits.grant(GUILD, ALICE, -750, actor_id=9, reason="oops")).available == 0
    grant = next(e for e in await core.ledger.entries(GUILD) if e.kind is LedgerKind.GRANT)
    assert (grant.actor_id, grant.reason) == (9, "event prize")


async def test_cancel_before_submit_releases_at_once(core: Core) -> None:
    accepted = await core.jobs.accept(request(ALICE.member_id))
    cancelled = await core.jobs.cancel(GUILD, accepted.job.id, ALICE.member_id)
    assert cancelled.state is JobState.CANCELLED
    assert (await core.ledger.balance(GUILD, ALICE.member_id)).available == 500


async def test_revokes_racing_holds_never_take_a_balance_below_zero(
    tmp_path: Path, clock: ManualClock, backend: Backend
) -> None:
    """An admin's revoke checks the balance it lowers: under the member's lock, like a hold."""
    target = backend.target(tmp_path)
    first, second = await Database.open(target), await Database.open(target)
    try:
        a, b = build_core(first, clock, allowance=400), build_core(second, clock, allowance=400)
        await a.credits.balance(GUILD, ALICE)
        attempts = [
            *((a if i % 2 else b).jobs.accept(request(ALICE.member_id)) for i in range(8)),
            *((b if i % 2 else a).credits.grant(GUILD, ALICE, -240, actor_id=9, reason=None) for i in range(4)),
        ]
        results = await asyncio.gather(*attempts, return_exceptions=True)
        assert all(
            isinstance(r, (InsufficientCredits, InvalidRequest)) for r in results if isinstance(r, BaseException)
        )
        balance = await a.ledger.balance(GUILD, ALICE.member_id)
        assert balance.available >= 0
        assert balance.available + balance.held == 400 - 240 * sum(
            1 for r in results[8:] if not isinstance(r, BaseException)
        )
    finally:
        await first.close()
        await second.close()


async def test_an_accept_writes_its_job_hold_and_budget_totals_in_few_round_trips(core: Core, db: Database) -> None:
    await core.jobs.accept(request(ALICE.member_id))  # the period's refill and the totals' first row
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO budget_totals (guild_id, period, spent) VALUES (?, 'never:once', 0)", (GUILD,))
    before = db.stats.copy()
    accepted = await core.jobs.accept(request(ALICE.member_id))
    trips = db.stats.round_trips - before.round_trips
    # SQLite: the batch's COMMIT is the one hop. PostgreSQL: BEGIN with the member lock, the
    # balance with the refill mark, the job with its hold and the totals' move, COMMIT.
    assert trips == (1 if db.backend == "sqlite" else 4)
    hold = await db.fetchval("SELECT amount FROM ledger WHERE job_id = ? AND kind = 'hold'", (accepted.job.id,))
    assert hold == accepted.job.price == 80
    assert await db.fetchval("SELECT state FROM jobs WHERE id = ?", (accepted.job.id,)) == "accepted"
    spent = await db.fetchval("SELECT spent FROM budget_totals WHERE guild_id = ? AND period = 'never:once'", (GUILD,))
    assert spent == 80  # moved by this hold only: the row was made after the first
