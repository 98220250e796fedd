"""Exports read one consistent snapshot, and never hold up the bot's writes while they read."""

from __future__ import annotations

import io

import pytest

from bot.cli.export import export_ledger
from bot.domain.models import LedgerKind
from bot.storage.db import Database, IntegrityError, Tx
from bot.storage.ledger import LedgerRepository
from tests.support import GUILD, ManualClock


async def grant(db: Database, member_id: int, clock: ManualClock) -> None:
    async with db.transaction() as tx:
        await LedgerRepository(db).append(
            tx, guild_id=GUILD, member_id=member_id, kind=LedgerKind.GRANT, amount=10, at=clock(), actor_id=9
        )


async def test_a_snapshot_does_not_see_writes_committed_while_it_reads(db: Database, clock: ManualClock) -> None:
    await grant(db, 1, clock)
    async with db.snapshot() as tx:
        before = await tx.fetchval("SELECT COUNT(*) FROM ledger")
        await grant(db, 2, clock)  # the bot keeps writing meanwhile: this must not wait for the export
        during = await tx.fetchval("SELECT COUNT(*) FROM ledger")
        members = [row["member_id"] for row in await tx.fetchall("SELECT member_id FROM ledger ORDER BY id")]
    assert before == during == 1
    assert members == [1]
    assert await db.fetchval("SELECT COUNT(*) FROM ledger") == 2


async def test_export_ledger_writes_every_committed_entry(db: Database, clock: ManualClock) -> None:
    for member in range(1, 6):
        await grant(db, member, clock)
    out = io.StringIO()
    assert await export_ledger(db, out, guild_id=GUILD) == 5
    assert len(out.getvalue().splitlines()) == 6


async def test_a_unit_of_work_commits_whole_or_not_at_all(db: Database, clock: ManualClock) -> None:
    """``db.run(work)``: the one-call seam a transaction is handed to storage through."""

    async def two_grants(tx: Tx) -> int:
        ledger = LedgerRepository(db)
        for member in (1, 2):
            await ledger.append(tx, guild_id=GUILD, member_id=member, kind=LedgerKind.GRANT, amount=5, at=clock())
        return int(await tx.fetchval("SELECT COUNT(*) FROM ledger"))

    async def refused(tx: Tx) -> None:
        await two_grants(tx)
        await tx.execute("UPDATE ledger SET amount = 0")  # append-only: refused, so nothing of this unit stays

    assert await db.run(two_grants) == 2
    with pytest.raises(IntegrityError, match="append-only"):
        await db.run(refused)
    assert await db.fetchval("SELECT COUNT(*) FROM ledger") == 2
