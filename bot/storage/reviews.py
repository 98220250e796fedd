"""Reviews of finished videos. A decision is a compare-and-set from 'pending': exactly one wins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.clock import from_ts, to_ts
from bot.domain.moderation import Review, ReviewState
from bot.storage.db import Database, Row, Tx

_COLUMNS = "job_id, guild_id, channel_id, state, decided_by, decided_at, reason, published_message_id, created_at"
# ``published_message_id`` of a rejected review: NOT_TOLD from the decision until the member's
# notice is sent, then that notice's message id. (NULL: decided before this was recorded; such
# rejections were told at the time.) The column already exists on every database, so finishing an
# interrupted rejection needs no migration.
NOT_TOLD = 0


def _review(row: Row) -> Review:
    created = from_ts(row["created_at"])
    assert created is not None
    return Review(
        job_id=row["job_id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        state=ReviewState(row["state"]),
        decided_by=row["decided_by"],
        decided_at=from_ts(row["decided_at"]),
        reason=row["reason"],
        published_message_id=row["published_message_id"],
        created_at=created,
    )


class ReviewRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(self, job_id: int, guild_id: int, channel_id: int, at: datetime) -> Review:
        """Create the pending review for a job, or return the one a previous attempt created."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO reviews (job_id, guild_id, channel_id, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (job_id) DO NOTHING",
                (job_id, guild_id, channel_id, to_ts(at)),
            )
            review = await self.get_in(tx, job_id)
        assert review is not None
        return review

    @staticmethod
    async def get_in(tx: Tx, job_id: int) -> Review | None:
        row = await tx.fetchone(f"SELECT {_COLUMNS} FROM reviews WHERE job_id = ?", (job_id,))
        return None if row is None else _review(row)

    async def get(self, job_id: int) -> Review | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM reviews WHERE job_id = ?", (job_id,))
        return None if row is None else _review(row)

    async def for_jobs(self, job_ids: Sequence[int]) -> dict[int, Review]:
        if not job_ids:
            return {}
        marks = ", ".join("?" for _ in job_ids)
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM reviews WHERE job_id IN ({marks})", list(job_ids))
        return {row["job_id"]: _review(row) for row in rows}

    @staticmethod
    async def decide_in(
        tx: Tx, job_id: int, state: ReviewState, actor_id: int, reason: str | None, at: datetime
    ) -> bool:
        """Record the decision only if none was made yet; True if this call made it."""
        told = NOT_TOLD if state is ReviewState.REJECTED else None
        changed = await tx.execute(
            "UPDATE reviews SET state = ?, decided_by = ?, decided_at = ?, reason = ?, published_message_id = ?"
            " WHERE job_id = ? AND state = ?",
            (state.value, actor_id, to_ts(at), reason, told, job_id, ReviewState.PENDING.value),
        )
        return changed == 1

    async def set_told(self, job_id: int, message_id: int) -> bool:
        """The member has been told of the rejection, by the message ``message_id``."""
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE reviews SET published_message_id = ? WHERE job_id = ? AND state = ?"
                " AND published_message_id = ?",
                (message_id, job_id, ReviewState.REJECTED.value, NOT_TOLD),
            )
        return changed == 1

    async def untold_rejections(self) -> list[Review]:
        """Rejections whose member notice never went out (a crash or a failure after the decision)."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM reviews WHERE state = ? AND published_message_id = ? ORDER BY job_id",
            (ReviewState.REJECTED.value, NOT_TOLD),
        )
        return [_review(row) for row in rows]

    @staticmethod
    async def set_published_in(tx: Tx, job_id: int, message_id: int) -> bool:
        changed = await tx.execute(
            "UPDATE reviews SET published_message_id = ? WHERE job_id = ? AND state = ?"
            " AND published_message_id IS NULL",
            (message_id, job_id, ReviewState.APPROVED.value),
        )
        return changed == 1

    async def pending_count(self, guild_id: int) -> int:
        """Videos waiting for a decision. A review whose post never reached the channel (the job then
        failed and its credits went back) is not waiting for anyone, so only delivered jobs count."""
        return int(
            await self.db.fetchval(
                "SELECT COUNT(*) FROM reviews r JOIN jobs j ON j.id = r.job_id"
                " WHERE r.guild_id = ? AND r.state = ? AND j.state = 'delivered'",
                (guild_id, ReviewState.PENDING.value),
            )
        )
