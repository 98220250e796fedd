"""Store purchases in the service: exactly once per entitlement across processes, revokes never below zero."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.config import StoreConfig
from bot.domain.models import LedgerKind
from bot.services.store import OUTSIDE_REASON, EntitlementSeen, StoreService
from bot.storage.db import Database
from bot.storage.ledger import LedgerRepository
from bot.storage.purchases import PurchaseRepository
from tests.backends import Backend
from tests.support import GUILD, ManualClock

SKU = 1_300_000_000_000_000_001
PACKS = StoreConfig(packs={str(SKU): 1000})
ALICE = 7


def _store(db: Database, clock: ManualClock) -> StoreService:
    return StoreService(db, PurchaseRepository(db), PACKS, clock)


def _seen(entitlement_id: int = 42, guild_id: int | None = GUILD) -> EntitlementSeen:
    return EntitlementSeen(entitlement_id=entitlement_id, sku_id=SKU, user_id=ALICE, guild_id=guild_id)


async def test_two_processes_seeing_the_same_purchase_credit_it_once(
    tmp_path: Path, clock: ManualClock, backend: Backend
) -> None:
    path = backend.target(tmp_path)
    first, second = await Database.open(path), await Database.open(path)
    try:
        outcomes = await asyncio.gather(*(_store(db, clock).bought(_seen()) for db in (first, second, first, second)))
        assert sum(outcome.credited_now for outcome in outcomes) == 1
        assert all(outcome.needs_consume for outcome in outcomes)  # each may consume; Discord dedupes that
        entries = await LedgerRepository(first).entries(GUILD)
        assert [(e.kind, e.amount) for e in entries] == [(LedgerKind.PURCHASE, 1000)]
    finally:
        await first.close()
        await second.close()


async def test_an_unknown_sku_is_left_alone(db: Database, clock: ManualClock) -> None:
    seen = EntitlementSeen(entitlement_id=1, sku_id=SKU + 1, user_id=ALICE, guild_id=GUILD)
    outcome = await _store(db, clock).bought(seen)
    assert outcome.purchase is None and not outcome.needs_consume
    assert await LedgerRepository(db).entries(GUILD) == []


async def test_a_purchase_outside_a_server_waits_then_lands_once(db: Database, clock: ManualClock) -> None:
    store = _store(db, clock)
    outcome = await store.bought(_seen(guild_id=None))
    assert not outcome.credited_now and not outcome.needs_consume  # not consumed before it is credited
    assert await store.has_pending(ALICE)
    [paid] = await store.credit_pending(ALICE, GUILD)
    assert paid.credits == 1000 and await store.credit_pending(ALICE, GUILD + 1) == []
    [entry] = await LedgerRepository(db).entries(GUILD)
    assert entry.reason == OUTSIDE_REASON and await LedgerRepository(db).entries(GUILD + 1) == []


async def test_a_revoke_takes_back_what_is_left_and_records_the_shortfall(db: Database, clock: ManualClock) -> None:
    store = _store(db, clock)
    await store.bought(_seen())
    async with db.transaction() as tx:  # the member spends 700 of it
        await LedgerRepository.append(
            tx, guild_id=GUILD, member_id=ALICE, kind=LedgerKind.ADJUST, amount=-700, at=clock()
        )
    outcome = await store.revoked(_seen())
    assert outcome is not None and (outcome.taken, outcome.shortfall) == (300, 700)
    assert await store.revoked(_seen()) is None  # a second delete changes nothing
    balance = await LedgerRepository(db).balance(GUILD, ALICE)
    assert balance.available == 0
    totals = await store.totals(GUILD, clock())
    assert (totals.packs, totals.shortfall) == (0, 700)


async def test_a_revoke_before_the_create_means_the_create_pays_nothing(db: Database, clock: ManualClock) -> None:
    store = _store(db, clock)
    outcome = await store.revoked(_seen())
    assert outcome is not None and (outcome.taken, outcome.shortfall) == (0, 0)
    late = await store.bought(_seen())
    assert not late.credited_now and await LedgerRepository(db).entries(GUILD) == []


async def test_a_revoke_racing_the_credit_of_a_waiting_purchase_never_leaves_it_paid(
    tmp_path: Path, clock: ManualClock, backend: Backend
) -> None:
    # Two processes: one sees the member use the bot (pays the waiting pack), the other the
    # refund. Whichever runs first, a refunded pack leaves the member with nothing of it.
    path = backend.target(tmp_path)
    first, second = await Database.open(path), await Database.open(path)
    try:
        for entitlement_id in range(100, 120):
            await _store(first, clock).bought(_seen(entitlement_id, guild_id=None))
            await asyncio.gather(
                _store(first, clock).revoked(_seen(entitlement_id, guild_id=None)),
                _store(second, clock).credit_pending(ALICE, GUILD),
            )
            assert (await LedgerRepository(first).balance(GUILD, ALICE)).available == 0, entitlement_id
            purchase = await PurchaseRepository(first).get(entitlement_id)
            assert purchase is not None and purchase.revoked_at is not None
            assert purchase.shortfall == 0
    finally:
        await first.close()
        await second.close()
