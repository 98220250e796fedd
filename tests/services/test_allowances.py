"""The server's allowance policy: defaults, roles (highest wins), refill period, anti-farming."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.domain.models import LedgerKind
from bot.services.credits import MemberContext
from bot.storage.db import Database
from tests.support import GUILD, ManualClock, build_guarded, request

PATRON, VIP, MUTED = 11, 12, 13


async def test_config_default_then_server_default(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock, credits={"default_allowance": 300})
    assert (await g.core.credits.balance(GUILD, MemberContext(1))).available == 300
    await g.admin.set_default_allowance(GUILD, 700, actor_id=99)
    # Another server keeps the config default; this one's new members get 700 at once.
    assert (await g.core.credits.balance(GUILD, MemberContext(2))).available == 700
    assert (await g.core.credits.balance(GUILD + 1, MemberContext(2))).available == 300


async def test_highest_role_wins_and_a_role_may_restrict(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock)
    for role, amount in ((PATRON, 1000), (VIP, 2000), (MUTED, 0)):
        await g.admin.set_role_allowance(GUILD, role, amount, actor_id=99)
    both = await g.core.credits.overview(GUILD, MemberContext(1, role_ids=(PATRON, VIP)))
    assert (both.allowance.amount, both.allowance.source, both.balance.available) == (2000, f"role:{VIP}", 2000)
    muted = await g.core.credits.overview(GUILD, MemberContext(2, role_ids=(MUTED,)))
    assert (muted.allowance.amount, muted.balance.available) == (0, 0)
    plain = await g.core.credits.overview(GUILD, MemberContext(3, role_ids=(999,)))
    assert (plain.allowance.amount, plain.allowance.source) == (500, "default")


async def test_role_change_applies_at_the_next_refill(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock)
    await g.admin.set_role_allowance(GUILD, PATRON, 1000, actor_id=99)
    alice = MemberContext(1)
    assert (await g.core.credits.balance(GUILD, alice)).available == 500
    patron = MemberContext(1, role_ids=(PATRON,))
    # Same week: the refill for this period is written, so the new role waits for the next one.
    assert (await g.core.credits.balance(GUILD, patron)).available == 500
    clock.advance(7 * 86400)
    assert (await g.core.credits.balance(GUILD, patron)).available == 1000
    await g.core.credits.grant(GUILD, patron, -900, actor_id=99, reason="spent elsewhere")
    clock.advance(7 * 86400)
    # Role removed: topped up to the default, not to the role's amount.
    assert (await g.core.credits.balance(GUILD, alice)).available == 500
    await g.admin.clear_role_allowance(GUILD, PATRON, actor_id=99)
    assert (await g.core.credits.overview(GUILD, patron)).allowance.source == "default"


async def test_refill_period_is_per_server(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock)
    await g.admin.set_refill_period(GUILD, "daily", actor_id=99)
    alice = MemberContext(1)
    await g.core.jobs.accept(request(1))
    assert (await g.core.credits.balance(GUILD, alice)).available == 420
    clock.advance(86400)
    overview = await g.core.credits.overview(GUILD, alice)
    # Held credits count as used: 500 - 420 - 80 held = 0 to top up... until the job ends.
    assert overview.allowance.period == "daily" and overview.balance.available == 420
    assert overview.next_refill is not None and overview.next_refill - clock() <= timedelta(days=1)


async def test_refills_once_per_period_under_concurrency(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock)
    alice = MemberContext(1, role_ids=(PATRON,))
    await g.admin.set_role_allowance(GUILD, PATRON, 900, actor_id=99)
    balances = await asyncio.gather(*(g.core.credits.balance(GUILD, alice) for _ in range(30)))
    assert {b.available for b in balances} == {900}
    refills = [e for e in await g.core.ledger.entries(GUILD) if e.kind is LedgerKind.REFILL]
    assert len(refills) == 1


async def test_new_accounts_and_members_qualify_later_in_the_same_period(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock, credits={"min_account_age_days": 7, "min_membership_days": 2})
    newcomer = MemberContext(1, joined_at=clock() - timedelta(days=1), account_created_at=clock() - timedelta(days=30))
    overview = await g.core.credits.overview(GUILD, newcomer)
    assert overview.balance.available == 0 and overview.allowance.amount == 0
    assert overview.allowance.qualifies_at == clock() + timedelta(days=1)
    assert overview.next_refill == overview.allowance.qualifies_at
    # Grants still work before that.
    assert (await g.core.credits.grant(GUILD, newcomer, 50, actor_id=99, reason="welcome")).available == 50
    clock.advance(86400 + 1)  # Thursday: still the same ISO week
    assert (await g.core.credits.balance(GUILD, newcomer)).available == 500  # topped up to the allowance
    young_account = MemberContext(2, joined_at=clock() - timedelta(days=30), account_created_at=clock())
    assert (await g.core.credits.overview(GUILD, young_account)).allowance.qualifies_at == clock() + timedelta(days=7)
