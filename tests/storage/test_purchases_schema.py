"""Migration 0007: one credit and one take-back per store entitlement (the database enforces it); still append-only."""

from __future__ import annotations

import pytest

from bot.storage.db import Database, IntegrityError

_INSERT = (
    "INSERT INTO ledger (guild_id, member_id, kind, amount, entitlement_id, created_at) VALUES (1, 2, 'grant', ?, ?, 0)"
)


async def test_an_entitlement_is_paid_and_taken_back_at_most_once(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute(_INSERT, (1000, 42))
        await tx.execute(_INSERT, (-1000, 42))
        await tx.execute(_INSERT, (1000, 43))
    for amount in (500, -5, 0):
        with pytest.raises(IntegrityError):
            async with db.transaction() as tx:
                await tx.execute(_INSERT, (amount, 42))
    assert await db.fetchval("SELECT COUNT(*) FROM ledger WHERE entitlement_id = 42") == 2


async def test_the_ledger_is_still_append_only_after_the_new_column(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute(_INSERT, (1000, 42))
    for statement in ("UPDATE ledger SET amount = 1", "DELETE FROM ledger"):
        with pytest.raises(IntegrityError, match="append-only"):
            async with db.transaction() as tx:
                await tx.execute(statement)
