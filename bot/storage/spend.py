"""What was spent: sums over holds, minus the holds that were returned.

"Spent" is what the operator pays for or may still pay for: every hold, except those released
(failed, refused, timed out, cancelled). A held job counts from the moment it is accepted, which
is what lets a budget cap refuse the job that would cross it before it reaches the provider.
A spend is dated by its hold, so a job accepted before midnight and released after it leaves
both days correct.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.clock import to_ts
from bot.domain.models import DaySpend, MemberSpend
from bot.storage.db import Database, Tx

# The settlement is joined through the partial unique index on settlements (its WHERE is repeated
# word for word, which is what lets SQLite use it); only releases are subtracted.
_FROM = """
FROM ledger h
LEFT JOIN ledger s ON s.job_id = h.job_id AND s.kind IN ('settle', 'release')
WHERE h.kind = 'hold' AND h.created_at >= ?
"""
_SPENT = "h.amount - (CASE WHEN s.kind = 'release' THEN s.amount ELSE 0 END)"
_KEPT = "(CASE WHEN s.kind = 'release' THEN 0 ELSE 1 END)"


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
