"""Store purchases: one row per entitlement the bot saw, and the ledger entries that pay them out.

The money is in the ledger (a 'grant' naming the entitlement; unique indexes allow one credit and
one take-back per entitlement); ``store_purchases`` records the steps around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.clock import from_ts, to_ts
from bot.storage.db import Database, Row, Tx

_COLUMNS = (
    "entitlement_id, sku_id, user_id, bought_in, guild_id, credits, credited_at, consumed_at, revoked_at, shortfall"
)


@dataclass(frozen=True, slots=True)
class Purchase:
    entitlement_id: int
    sku_id: int
    user_id: int
    bought_in: int | None  # the server it was bought in; None for a purchase outside a server
    guild_id: int | None  # the server whose balance got the credits; None until credited
    credits: int
    credited_at: datetime | None
    consumed_at: datetime | None
    revoked_at: datetime | None
    shortfall: int


def _purchase(row: Row) -> Purchase:
    return Purchase(
        entitlement_id=row["entitlement_id"],
        sku_id=row["sku_id"],
        user_id=row["user_id"],
        bought_in=row["bought_in"],
        guild_id=row["guild_id"],
        credits=row["credits"],
        credited_at=from_ts(row["credited_at"]),
        consumed_at=from_ts(row["consumed_at"]),
        revoked_at=from_ts(row["revoked_at"]),
        shortfall=row["shortfall"],
    )


class PurchaseRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def ensure(
        tx: Tx, *, entitlement_id: int, sku_id: int, user_id: int, bought_in: int | None, credits: int, at: datetime
    ) -> Purchase:
        """The row for this entitlement, created the first time it is seen."""
        await tx.execute(
            "INSERT INTO store_purchases (entitlement_id, sku_id, user_id, bought_in, credits, seen_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (entitlement_id) DO NOTHING",
            (entitlement_id, sku_id, user_id, bought_in, credits, to_ts(at)),
        )
        row = await tx.fetchone(f"SELECT {_COLUMNS} FROM store_purchases WHERE entitlement_id = ?", (entitlement_id,))
        assert row is not None
        return _purchase(row)

    @staticmethod
    async def credit(tx: Tx, purchase: Purchase, guild_id: int, at: datetime, reason: str) -> bool:
        """Pay the pack into ``guild_id``. False if this entitlement was already paid (by any process).

        DO NOTHING rather than catching the unique violation: on PostgreSQL a failed statement
        aborts the whole transaction, so the caller could not go on with its other purchases."""
        paid = await tx.execute(
            "INSERT INTO ledger (guild_id, member_id, kind, amount, reason, entitlement_id, created_at)"
            " VALUES (?, ?, 'grant', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (guild_id, purchase.user_id, purchase.credits, reason, purchase.entitlement_id, to_ts(at)),
        )
        if paid != 1:
            return False  # ledger_one_purchase: paid already
        await tx.execute(
            "UPDATE store_purchases SET guild_id = ?, credited_at = ? WHERE entitlement_id = ?",
            (guild_id, to_ts(at), purchase.entitlement_id),
        )
        return True

    @staticmethod
    async def take_back(tx: Tx, purchase: Purchase, amount: int, shortfall: int, at: datetime) -> None:
        """Record a revoke: ``amount`` taken from the balance it was paid into, ``shortfall`` not recoverable."""
        if purchase.credited_at is not None and purchase.guild_id is not None:
            await tx.execute(
                "INSERT INTO ledger (guild_id, member_id, kind, amount, reason, entitlement_id, created_at)"
                " VALUES (?, ?, 'grant', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    purchase.guild_id,
                    purchase.user_id,
                    -amount,
                    f"store pack {purchase.sku_id} revoked",
                    purchase.entitlement_id,
                    to_ts(at),
                ),
            )
        await tx.execute(
            "UPDATE store_purchases SET revoked_at = ?, shortfall = ? WHERE entitlement_id = ?",
            (to_ts(at), shortfall, purchase.entitlement_id),
        )

    async def mark_consumed(self, entitlement_id: int, at: datetime) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE store_purchases SET consumed_at = ? WHERE entitlement_id = ? AND consumed_at IS NULL",
                (to_ts(at), entitlement_id),
            )

    @staticmethod
    async def pending_for(tx: Tx, user_id: int) -> list[Purchase]:
        rows = await tx.fetchall(
            f"SELECT {_COLUMNS} FROM store_purchases"
            " WHERE user_id = ? AND credited_at IS NULL AND revoked_at IS NULL ORDER BY entitlement_id",
            (user_id,),
        )
        return [_purchase(row) for row in rows]

    async def has_pending(self, user_id: int) -> bool:
        found = await self.db.fetchval(
            "SELECT 1 FROM store_purchases WHERE user_id = ? AND credited_at IS NULL AND revoked_at IS NULL",
            (user_id,),
        )
        return found is not None

    async def unconsumed(self) -> list[Purchase]:
        """Credited, not yet consumed at Discord, not revoked: the consumes still to retry."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM store_purchases"
            " WHERE credited_at IS NOT NULL AND consumed_at IS NULL AND revoked_at IS NULL ORDER BY entitlement_id"
        )
        return [_purchase(row) for row in rows]

    async def get(self, entitlement_id: int) -> Purchase | None:
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM store_purchases WHERE entitlement_id = ?", (entitlement_id,)
        )
        return None if row is None else _purchase(row)

    async def totals(self, guild_id: int, since: datetime) -> tuple[int, int, int]:
        """(packs, credits) paid into this server since ``since`` and kept, and its unrecovered shortfall (all time)."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS packs, COALESCE(SUM(credits), 0) AS credits FROM store_purchases"
            " WHERE guild_id = ? AND credited_at >= ? AND revoked_at IS NULL",
            (guild_id, to_ts(since)),
        )
        short = await self.db.fetchval(
            "SELECT COALESCE(SUM(shortfall), 0) FROM store_purchases WHERE guild_id = ?", (guild_id,)
        )
        assert row is not None
        return int(row["packs"]), int(row["credits"]), int(short)
