"""What was spent: what the operator's provider account paid for, or may still pay for.

Every hold counts from the moment the job is accepted (so a budget cap refuses the job that would
cross it before it reaches the provider), and keeps counting after the job ends if the provider
completed the render or may have charged for it: delivered, refunded to the member later, or made
but undeliverable. A hold stops counting when it is released and the provider did not charge
(``jobs.provider_billed`` = 0): never sent, cancelled, or failed or refused by the provider, which
both providers refund. A spend is dated by its hold, so a job accepted before midnight and
released after it leaves both days correct.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from bot.domain.clock import to_ts
from bot.domain.models import DaySpend, MemberSpend
from bot.domain.periods import Period, period_key, period_start
from bot.storage.db import GLOBAL_BUDGET_LOCK, Database, Tx, server_budget_lock

#: ``budget_totals.guild_id`` of the bot-wide total (Discord ids are never 0).
ALL_SERVERS = 0
_PERIODS: tuple[Period, ...] = ("daily", "weekly", "monthly", "never")


def _total_key(period: Period, moment: datetime) -> str:
    return f"{period}:{period_key(period, moment)}"


@lru_cache(maxsize=16)
def _total_keys(day: date) -> tuple[str, ...]:
    """Every period's total key for a UTC day: every hold and release moves these (computed once a day)."""
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return tuple(_total_key(period, moment) for period in _PERIODS)


MOVE_TOTALS_SQL = "UPDATE budget_totals SET spent = spent + ? WHERE guild_id IN (?, ?) AND period IN (?, ?, ?, ?)"


def move_totals_params(guild_id: int, amount: int, held_at: datetime) -> tuple[object, ...]:
    """The parameters of ``MOVE_TOTALS_SQL``: every running total of the hold's periods moves by ``amount``."""
    return (amount, guild_id, ALL_SERVERS, *_total_keys(held_at.astimezone(UTC).date()))


# The settlement is joined through the partial unique index on settlements (its WHERE is repeated
# word for word, which is what lets SQLite use it), the job by its primary key.
_JOINS = """
FROM ledger h
JOIN jobs j ON j.id = h.job_id
LEFT JOIN ledger s ON s.job_id = h.job_id AND s.kind IN ('settle', 'release')
"""
_WHERE = "WHERE h.kind = 'hold' AND h.created_at >= ?"
_FROM = f"{_JOINS}{_WHERE}"
# A delivered job's refund: the one 'adjust' entry naming it (a moderator's, or with a rejection).
_FROM_WITH_REFUNDS = (
    f"{_JOINS}LEFT JOIN ledger r ON r.job_id = h.job_id AND r.kind = 'adjust' AND r.job_id IS NOT NULL\n{_WHERE}"
)
# A release frees a job's share only when the provider account did not pay for the render.
_FREED = "(s.kind = 'release' AND j.provider_billed = 0)"
_SPENT = f"(CASE WHEN {_FREED} THEN h.amount - s.amount ELSE h.amount END)"
_KEPT = f"(CASE WHEN {_FREED} THEN 0 ELSE 1 END)"
# Credits of counted jobs that members have back: a paid render released undelivered, or a refund.
_GIVEN_BACK = (
    "(CASE WHEN s.kind = 'release' AND j.provider_billed = 1 THEN s.amount ELSE 0 END) + COALESCE(r.amount, 0)"
)


@dataclass(frozen=True, slots=True)
class SpendSummary:
    """Counted spend in bot credits, the part of it members have back, and the provider's own figure."""

    spent: int
    given_back: int
    jobs: int
    # The sum of what the provider reported charging for these jobs, in its own credits; None if it never said.
    provider_charged: int | None


class SpendRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def spent_in(tx: Tx, guild_id: int | None, since: datetime | None) -> int:
        """Credits spent since ``since`` (None: ever) in one server, or in all of them."""
        start = to_ts(since) if since is not None else 0.0
        if guild_id is None:
            value = await tx.fetchval(f"SELECT COALESCE(SUM({_SPENT}), 0) {_FROM}", (start,))
        else:
            value = await tx.fetchval(
                f"SELECT COALESCE(SUM({_SPENT}), 0) {_FROM} AND h.guild_id = ?", (start, guild_id)
            )
        return int(value or 0)

    @staticmethod
    async def running_spent_in(tx: Tx, guild_id: int | None, period: Period, now: datetime) -> int:
        """What ``spent_in`` counts for the period containing ``now``, from its running total.

        The first check of a period seeds the total from the full sum (the same rule, so existing
        data and a period already under way come out the same); afterwards holds and freeing
        releases move it (``moved_in``), and this reads one row. Read under the budget's lock, so no
        hold of another process can fall between the seed's sum and its row.
        """
        scope = ALL_SERVERS if guild_id is None else guild_id
        await tx.lock(GLOBAL_BUDGET_LOCK if guild_id is None else server_budget_lock(guild_id))
        key = _total_key(period, now)
        value = await tx.fetchval("SELECT spent FROM budget_totals WHERE guild_id = ? AND period = ?", (scope, key))
        if value is not None:
            return int(value)
        spent = await SpendRepository.spent_in(tx, guild_id, period_start(period, now))
        await tx.execute(
            "INSERT INTO budget_totals (guild_id, period, spent) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (scope, key, spent),
        )
        return spent

    @staticmethod
    async def moved_in(tx: Tx, guild_id: int, amount: int, held_at: datetime) -> None:
        """A hold (+ its amount) or a release the provider did not charge for (− the hold's amount),
        dated by the hold: every running total already seeded for its periods moves with it."""
        await tx.execute(MOVE_TOTALS_SQL, move_totals_params(guild_id, amount, held_at))

    @staticmethod
    async def summary_in(tx: Tx, guild_id: int | None, since: datetime | None) -> SpendSummary:
        """What ``spent_in`` counts, with what members got back and what the provider reported."""
        start = to_ts(since) if since is not None else 0.0
        where, params = ("", (start,)) if guild_id is None else (" AND h.guild_id = ?", (start, guild_id))
        row = await tx.fetchone(
            f"SELECT COALESCE(SUM({_SPENT}), 0) AS spent, COALESCE(SUM({_GIVEN_BACK}), 0) AS given_back,"
            f" COALESCE(SUM({_KEPT}), 0) AS jobs, SUM(j.provider_charged) AS charged {_FROM_WITH_REFUNDS}{where}",
            params,
        )
        assert row is not None  # an aggregate always returns one row
        charged = row["charged"]
        return SpendSummary(
            spent=int(row["spent"]),
            given_back=int(row["given_back"]),
            jobs=int(row["jobs"]),
            provider_charged=None if charged is None else int(charged),
        )

    async def summary(self, guild_id: int | None, since: datetime | None) -> SpendSummary:
        async with self.db.reading() as tx:
            return await self.summary_in(tx, guild_id, since)

    async def spent(self, guild_id: int | None, since: datetime | None) -> int:
        async with self.db.reading() as tx:
            return await self.spent_in(tx, guild_id, since)

    async def by_day(self, guild_id: int, since: datetime) -> list[DaySpend]:
        """Days (UTC) with any spend, oldest first; days without spend are left out."""
        rows = await self.db.fetchall(
            f"SELECT {self.db.dialect.utc_day('h.created_at')} AS day, SUM({_SPENT}) AS credits, SUM({_KEPT}) AS jobs"
            f" {_FROM} AND h.guild_id = ? GROUP BY day ORDER BY day",
            (to_ts(since), guild_id),
        )
        return [DaySpend(day=row["day"], credits=int(row["credits"]), jobs=int(row["jobs"])) for row in rows]

    async def top_members(self, guild_id: int, since: datetime, limit: int = 10) -> list[MemberSpend]:
        rows = await self.db.fetchall(
            f"SELECT h.member_id AS member_id, SUM({_SPENT}) AS credits, SUM({_KEPT}) AS jobs"
            f" {_FROM} AND h.guild_id = ? GROUP BY h.member_id HAVING SUM({_SPENT}) > 0"
            " ORDER BY credits DESC, member_id LIMIT ?",
            (to_ts(since), guild_id, limit),
        )
        return [
            MemberSpend(member_id=int(row["member_id"]), credits=int(row["credits"]), jobs=int(row["jobs"]))
            for row in rows
        ]
