"""Budget caps: never exceeded under concurrency, per server and globally; admins told once per period."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.models import LedgerKind
from bot.errors import InsufficientCredits
from bot.services.budget import CapReached
from bot.storage.db import Database
from tests.support import GUILD, ManualClock, build_guarded, request, spec

ADMIN_CHANNEL = 777


async def test_concurrent_jobs_never_cross_the_server_cap(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock, limits={"cooldown_seconds": 0, "max_running_per_member": 10})
    await g.admin.set_budget(GUILD, 1000, "monthly", actor_id=99)  # 12 jobs of 80 fit (960), not 13
    attempts = [g.core.jobs.accept(request(member)) for member in range(1, 21) for _ in range(3)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(accepted) == 12 and all(isinstance(r, CapReached) for r in refused)
    assert await g.stats.spend.spent(GUILD, None) == 960
    # Nothing refused was charged: one hold per accepted job, nothing else.
    holds = [e for e in await g.core.ledger.entries(GUILD) if e.kind is LedgerKind.HOLD]
    assert len(holds) == 12


async def test_released_jobs_give_their_budget_back(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock, limits={"cooldown_seconds": 0})
    await g.admin.set_budget(GUILD, 100, None, actor_id=99)
    accepted = await g.core.jobs.accept(request(1))
    with pytest.raises(CapReached, match="20 credits are left"):
        await g.core.jobs.accept(request(2))
    await g.core.jobs.cancel(GUILD, accepted.job.id, 1)
    await g.core.jobs.accept(request(2))


async def test_the_global_cap_spans_servers(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock, budget={"global_cap": 200, "period": "daily"})
    await g.core.jobs.accept(request(1, guild_id=1))
    await g.core.jobs.accept(request(1, guild_id=2))
    with pytest.raises(CapReached, match="overall video budget is used up today") as caught:
        await g.core.jobs.accept(request(1, guild_id=3))
    assert "operator" in caught.value.message and "200" not in caught.value.message  # no operator numbers
    clock.advance(86400)  # the next day is a new period
    await g.core.jobs.accept(request(2, guild_id=3))


async def test_admins_are_told_once_per_period_and_again_if_it_failed(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock, limits={"cooldown_seconds": 0}, budget={"period": "daily"})
    await g.admin.set_budget(GUILD, 80, None, actor_id=99)
    await g.core.jobs.accept(request(1))
    # No admin channel yet: nothing is sent, and nothing is marked as told.
    with pytest.raises(CapReached):
        await g.core.jobs.accept(request(2))
    assert g.sink.sent == []
    await g.admin.set_admin_channel(GUILD, ADMIN_CHANNEL, actor_id=99)
    g.sink.fail = True
    with pytest.raises(CapReached):
        await g.core.jobs.accept(request(2))
    g.sink.fail = False
    results = await asyncio.gather(*(g.core.jobs.accept(request(m)) for m in range(2, 12)), return_exceptions=True)
    assert all(isinstance(r, CapReached) for r in results)
    [(guild_id, channel_id, text)] = g.sink.sent
    assert (guild_id, channel_id) == (GUILD, ADMIN_CHANNEL) and "reached its video budget today" in text
    clock.advance(86400)
    await g.core.jobs.accept(request(2))
    with pytest.raises(CapReached):
        await g.core.jobs.accept(request(3))
    assert len(g.sink.sent) == 2  # a new period, a new notice


async def test_a_quote_runs_the_same_guards(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock)
    await g.admin.set_budget(GUILD, 300, None, actor_id=99)
    with pytest.raises(CapReached):
        await g.core.jobs.quote(request(1, spec(duration=15, resolution="1080p")))
    quote = await g.core.jobs.quote(request(1, spec(duration=15)))
    assert (quote.price, quote.balance.available, quote.balance_after) == (220, 500, 280)
    await g.core.credits.grant(GUILD, request(1).member, -400, actor_id=99, reason=None)
    with pytest.raises(InsufficientCredits):
        await g.core.jobs.quote(request(1, spec(duration=15)))
    assert [e.kind for e in await g.core.ledger.entries(GUILD)] == [LedgerKind.REFILL, LedgerKind.GRANT]


async def test_the_running_total_agrees_with_the_full_sum(db: Database, clock: ManualClock) -> None:
    """Budget checks read a running total per period; it must count exactly what the full sum counts:
    holds count, a release the provider charged for keeps counting, one it did not frees the share."""
    g = build_guarded(db, clock, limits={"cooldown_seconds": 0, "max_running_per_member": 10})
    await g.admin.set_budget(GUILD, 10_000, "daily", actor_id=99)
    before_cap = await g.core.jobs.accept(request(1))  # held before the first check seeds the total
    jobs = [(await g.core.jobs.accept(request(member))).job for member in range(2, 7)]
    await g.core.jobs.cancel(GUILD, jobs[0].id, 2)  # never sent: frees its 80
    async with db.transaction() as tx:  # the provider charged for this one, then it failed
        await g.core.job_repo.update_in(tx, jobs[1].id, provider_billed=True)
        await g.core.credits.release_in(tx, jobs[1], clock(), "failed: undeliverable")
        await g.core.credits.settle_in(tx, before_cap.job, clock())
        await g.core.credits.release_in(tx, jobs[2], clock(), "refused: provider refunded")
    full = await g.stats.spend.spent(GUILD, None)
    assert full == 4 * 80  # before_cap, the billed failure, jobs[3], jobs[4]

    async def running(tx):  # type: ignore[no-untyped-def]
        return await g.stats.spend.running_spent_in(tx, GUILD, "daily", clock())

    assert await db.run(running) == full
    # The next check is a new job against that total: 4 × 80 spent, cap 400 leaves room for one.
    await g.admin.set_budget(GUILD, 400, None, actor_id=99)
    await g.core.jobs.accept(request(8))
    with pytest.raises(CapReached, match="400 of 400"):
        await g.core.jobs.accept(request(9))
