"""Reports of public results (one open report per job, one vote per member) and removals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.clock import from_ts, to_ts
from bot.domain.moderation import Removal, Report, ReportState
from bot.storage.db import Database, Row, Tx

_REPORT = (
    "r.id, r.guild_id, r.job_id, r.channel_id, r.message_id, r.state, r.notice_channel_id, r.notice_message_id,"
    " r.closed_by, r.closed_at, r.created_at,"
    " (SELECT COUNT(*) FROM report_votes v WHERE v.report_id = r.id) AS votes"
)
_REMOVAL = "job_id, guild_id, channel_id, message_id, actor_id, by_owner, reason, created_at"


def _report(row: Row) -> Report:
    created = from_ts(row["created_at"])
    assert created is not None
    return Report(
        id=row["id"],
        guild_id=row["guild_id"],
        job_id=row["job_id"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        state=ReportState(row["state"]),
        notice_channel_id=row["notice_channel_id"],
        notice_message_id=row["notice_message_id"],
        closed_by=row["closed_by"],
        closed_at=from_ts(row["closed_at"]),
        created_at=created,
        votes=int(row["votes"]),
    )


def _removal(row: Row) -> Removal:
    created = from_ts(row["created_at"])
    assert created is not None
    return Removal(
        job_id=row["job_id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        actor_id=row["actor_id"],
        by_owner=bool(row["by_owner"]),
        reason=row["reason"],
        created_at=created,
    )


class ReportRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- reports ---------------------------------------------------------------------------

    @staticmethod
    async def get_in(tx: Tx, report_id: int) -> Report | None:
        row = await tx.fetchone(f"SELECT {_REPORT} FROM reports r WHERE r.id = ?", (report_id,))
        return None if row is None else _report(row)

    async def get(self, report_id: int) -> Report | None:
        row = await self.db.fetchone(f"SELECT {_REPORT} FROM reports r WHERE r.id = ?", (report_id,))
        return None if row is None else _report(row)

    @staticmethod
    async def open_for_job_in(tx: Tx, job_id: int) -> Report | None:
        row = await tx.fetchone(f"SELECT {_REPORT} FROM reports r WHERE r.job_id = ? AND r.state = 'open'", (job_id,))
        return None if row is None else _report(row)

    @staticmethod
    async def create_in(tx: Tx, *, guild_id: int, job_id: int, channel_id: int, message_id: int, at: datetime) -> int:
        return await tx.insert(
            "INSERT INTO reports (guild_id, job_id, channel_id, message_id, created_at) VALUES (?, ?, ?, ?, ?)",
            (guild_id, job_id, channel_id, message_id, to_ts(at)),
        )

    @staticmethod
    async def add_vote_in(tx: Tx, report_id: int, member_id: int, at: datetime) -> bool:
        """One vote per member; False if this member had already reported it."""
        changed = await tx.execute(
            "INSERT INTO report_votes (report_id, member_id, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (report_id, member_id) DO NOTHING",
            (report_id, member_id, to_ts(at)),
        )
        return changed == 1

    async def set_notice(self, report_id: int, channel_id: int, message_id: int) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE reports SET notice_channel_id = ?, notice_message_id = ? WHERE id = ?",
                (channel_id, message_id, report_id),
            )

    @staticmethod
    async def close_in(tx: Tx, report_id: int, state: ReportState, actor_id: int, at: datetime) -> bool:
        """Close an open report; True if this call closed it."""
        changed = await tx.execute(
            "UPDATE reports SET state = ?, closed_by = ?, closed_at = ? WHERE id = ? AND state = 'open'",
            (state.value, actor_id, to_ts(at), report_id),
        )
        return changed == 1

    async def votes_for_jobs(self, job_ids: Sequence[int]) -> dict[int, int]:
        """Distinct members who reported each job, across all its reports."""
        if not job_ids:
            return {}
        marks = ", ".join("?" for _ in job_ids)
        rows = await self.db.fetchall(
            "SELECT r.job_id, COUNT(DISTINCT v.member_id) AS n FROM reports r JOIN report_votes v"
            f" ON v.report_id = r.id WHERE r.job_id IN ({marks}) GROUP BY r.job_id",
            list(job_ids),
        )
        return {row["job_id"]: int(row["n"]) for row in rows}

    # --- removals --------------------------------------------------------------------------

    @staticmethod
    async def removal_in(tx: Tx, job_id: int) -> Removal | None:
        row = await tx.fetchone(f"SELECT {_REMOVAL} FROM removals WHERE job_id = ?", (job_id,))
        return None if row is None else _removal(row)

    @staticmethod
    async def add_removal_in(
        tx: Tx,
        *,
        job_id: int,
        guild_id: int,
        channel_id: int,
        message_id: int,
        actor_id: int,
        by_owner: bool,
        reason: str | None,
        at: datetime,
    ) -> bool:
        changed = await tx.execute(
            f"INSERT INTO removals ({_REMOVAL}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING",
            (job_id, guild_id, channel_id, message_id, actor_id, int(by_owner), reason, to_ts(at)),
        )
        return changed == 1

    async def removals_for_jobs(self, job_ids: Sequence[int]) -> dict[int, Removal]:
        if not job_ids:
            return {}
        marks = ", ".join("?" for _ in job_ids)
        rows = await self.db.fetchall(f"SELECT {_REMOVAL} FROM removals WHERE job_id IN ({marks})", list(job_ids))
        return {row["job_id"]: _removal(row) for row in rows}
