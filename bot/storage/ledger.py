"""The credit ledger: append-only entries; balances are sums over them, never stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.clock import from_ts, to_ts
from bot.domain.models import Balance, LedgerEntry, LedgerKind
from bot.storage.db import Database, Row, Tx, storable_text
from bot.storage.jobs import INSERT_JOB_SQL, NewJob
from bot.storage.spend import MOVE_TOTALS_SQL, move_totals_params

# available = grants + refills + adjustments - holds + releases
# held      = holds - settlements - releases
_SUMS = """
    COALESCE(SUM(CASE kind
        WHEN 'hold' THEN -amount
        WHEN 'settle' THEN 0
        WHEN 'release' THEN amount
        ELSE amount END), 0) AS available,
    COALESCE(SUM(CASE kind
        WHEN 'hold' THEN amount
        WHEN 'settle' THEN -amount
        WHEN 'release' THEN -amount
        ELSE 0 END), 0) AS held"""
_BALANCE_SQL = f"SELECT {_SUMS}\nFROM ledger\nWHERE guild_id = ? AND member_id = ?"
# The balance and whether the period's refill is written, in one statement: every accept asks both.
_BALANCE_AND_REFILL_SQL = (
    f"SELECT {_SUMS},\n    EXISTS (SELECT 1 FROM ledger WHERE guild_id = ? AND member_id = ? AND kind = 'refill'"
    " AND period = ?) AS refilled\nFROM ledger\nWHERE guild_id = ? AND member_id = ?"
)

# A store purchase (or its revoke) is stored as a 'grant' naming its entitlement; read back as 'purchase'.
_KIND = "CASE WHEN entitlement_id IS NULL THEN kind ELSE 'purchase' END"
_COLUMNS = f"id, guild_id, member_id, {_KIND} AS kind, amount, job_id, actor_id, reason, created_at"


@dataclass(frozen=True, slots=True)
class ExportedEntry:
    """One ledger entry as the CSV export writes it: the entry and the refill period it belongs to."""

    entry: LedgerEntry
    period: str | None


def _entry(row: Row) -> LedgerEntry:
    created = from_ts(row["created_at"])
    assert created is not None
    return LedgerEntry(
        id=row["id"],
        guild_id=row["guild_id"],
        member_id=row["member_id"],
        kind=LedgerKind(row["kind"]),
        amount=row["amount"],
        job_id=row["job_id"],
        actor_id=row["actor_id"],
        reason=row["reason"],
        created_at=created,
    )


class LedgerRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def balance_in(tx: Tx, guild_id: int, member_id: int) -> Balance:
        row = await tx.fetchone(_BALANCE_SQL, (guild_id, member_id))
        assert row is not None  # an aggregate always returns one row
        return Balance(available=int(row["available"]), held=int(row["held"]))

    async def balance(self, guild_id: int, member_id: int) -> Balance:
        async with self.db.reading() as tx:
            return await self.balance_in(tx, guild_id, member_id)

    @staticmethod
    async def append(
        tx: Tx,
        *,
        guild_id: int,
        member_id: int,
        kind: LedgerKind,
        amount: int,
        at: datetime,
        job_id: int | None = None,
        actor_id: int | None = None,
        reason: str | None = None,
        period: str | None = None,
    ) -> int:
        return await tx.insert(
            "INSERT INTO ledger (guild_id, member_id, kind, amount, job_id, actor_id, reason, period, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                guild_id,
                member_id,
                kind.value,
                amount,
                job_id,
                actor_id,
                None if reason is None else storable_text(reason),  # a release names the provider's error
                period,
                to_ts(at),
            ),
        )

    @staticmethod
    async def insert_held_job_in(tx: Tx, new: NewJob) -> int:
        """An accepted job, its hold and the budget totals' move in one statement; the job's id.

        For backends with ``Dialect.writable_ctes`` (PostgreSQL): the statement's parts see one
        snapshot and commit or fail together; the hold's foreign key is checked at the statement's
        end, when the job row exists."""
        job_id = await tx.fetchval(
            f"WITH job AS ({INSERT_JOB_SQL} RETURNING id),"
            " hold AS (INSERT INTO ledger (guild_id, member_id, kind, amount, job_id, created_at)"
            " VALUES (?, ?, 'hold', ?, (SELECT id FROM job), ?)),"
            f" totals AS ({MOVE_TOTALS_SQL})"
            " SELECT id FROM job",
            (
                *new.values(),
                *(new.guild_id, new.member_id, new.price, to_ts(new.accepted_at)),
                *move_totals_params(new.guild_id, new.price, new.accepted_at),
            ),
        )
        return int(job_id)

    @staticmethod
    async def balance_and_refill_in(tx: Tx, guild_id: int, member_id: int, period: str) -> tuple[Balance, bool]:
        """The balance, and whether the refill of ``period`` is already written."""
        row = await tx.fetchone(_BALANCE_AND_REFILL_SQL, (guild_id, member_id, period, guild_id, member_id))
        assert row is not None  # an aggregate always returns one row
        return Balance(available=int(row["available"]), held=int(row["held"])), bool(row["refilled"])

    @staticmethod
    async def hold_and_settlement_in(tx: Tx, job_id: int) -> tuple[LedgerEntry | None, LedgerEntry | None, bool]:
        """A job's hold, its settlement or release if any, and whether the provider billed the job
        (``jobs.provider_billed`` as the row is now): what settling or releasing a job decides on, in
        one statement. Two branches, each matching one partial unique index word for word."""
        rows = await tx.fetchall(
            f"SELECT {_COLUMNS}, (SELECT provider_billed FROM jobs WHERE id = ?) AS billed"
            " FROM ledger WHERE job_id = ? AND kind = 'hold'"
            f" UNION ALL SELECT {_COLUMNS}, NULL FROM ledger WHERE job_id = ? AND kind IN ('settle', 'release')",
            (job_id, job_id, job_id),
        )
        hold = next((row for row in rows if row["kind"] == LedgerKind.HOLD.value), None)
        settlement = next((row for row in rows if row["kind"] != LedgerKind.HOLD.value), None)
        billed = bool(hold["billed"]) if hold is not None else False
        return (
            None if hold is None else _entry(hold),
            None if settlement is None else _entry(settlement),
            billed,
        )

    @staticmethod
    async def job_settlement(tx: Tx, job_id: int) -> LedgerEntry | None:
        row = await tx.fetchone(
            f"SELECT {_COLUMNS} FROM ledger WHERE job_id = ? AND kind IN ('settle', 'release')", (job_id,)
        )
        return None if row is None else _entry(row)

    @staticmethod
    async def job_refund(tx: Tx, job_id: int) -> LedgerEntry | None:
        """The refund of a delivered job: the one 'adjust' entry naming it (a unique index allows one)."""
        row = await tx.fetchone(f"SELECT {_COLUMNS} FROM ledger WHERE job_id = ? AND kind = 'adjust'", (job_id,))
        return None if row is None else _entry(row)

    async def refunded_jobs(self, job_ids: Sequence[int]) -> set[int]:
        if not job_ids:
            return set()
        marks = ", ".join("?" for _ in job_ids)
        rows = await self.db.fetchall(
            f"SELECT job_id FROM ledger WHERE kind = 'adjust' AND job_id IN ({marks})", list(job_ids)
        )
        return {int(row["job_id"]) for row in rows}

    async def recent(self, guild_id: int, member_id: int, limit: int = 10) -> list[LedgerEntry]:
        """The newest entries first, leaving out zero-amount refills (a period already at its allowance)."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM ledger WHERE guild_id = ? AND member_id = ?"
            " AND NOT (kind = 'refill' AND amount = 0) ORDER BY id DESC LIMIT ?",
            (guild_id, member_id, limit),
        )
        return [_entry(row) for row in rows]

    async def entries(self, guild_id: int | None = None) -> list[LedgerEntry]:
        # One statement, so one snapshot on both backends (a PostgreSQL statement sees the data as
        # of its start, even under READ COMMITTED): /wan-admin export relies on this.
        if guild_id is None:
            rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM ledger ORDER BY id")
        else:
            rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM ledger WHERE guild_id = ? ORDER BY id", (guild_id,))
        return [_entry(row) for row in rows]

    @staticmethod
    async def export_page_in(tx: Tx, *, after_id: int, limit: int, guild_id: int | None = None) -> list[ExportedEntry]:
        """Entries with ``id > after_id``, oldest first: keyset pages, so an export of a large ledger
        never loads it all into memory. Read inside ``db.snapshot()``, so every page comes from one
        consistent moment (on PostgreSQL a lower id can commit after a higher one) and the bot's
        own connection is never held for the export."""
        where = "id > ?" if guild_id is None else "id > ? AND guild_id = ?"
        params: tuple[int, ...] = (after_id, limit) if guild_id is None else (after_id, guild_id, limit)
        rows = await tx.fetchall(f"SELECT {_COLUMNS}, period FROM ledger WHERE {where} ORDER BY id LIMIT ?", params)
        return [ExportedEntry(_entry(row), row["period"]) for row in rows]

    async def totals_by_kind(self) -> dict[LedgerKind, int]:
        """The sum of every entry of each kind, across all servers (metrics: credits held and settled)."""
        rows = await self.db.fetchall(
            f"SELECT {_KIND} AS kind, COALESCE(SUM(amount), 0) AS total FROM ledger GROUP BY 1"
        )
        totals = dict.fromkeys(LedgerKind, 0)
        totals.update({LedgerKind(row["kind"]): int(row["total"]) for row in rows})
        return totals
