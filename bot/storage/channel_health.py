"""How deliveries in one channel went lately, read from the jobs themselves.

No table of its own: the jobs already record every delivery (``delivered``) and every
delivery the runner gave up on (``error_code = 'delivery_failed'``), so the count survives
restarts and a successful post resets it by being newer (migration 0006 indexes both). The
only thing stored apart is an admin's "resume this channel", kept as a marker row next to the
"admins were told" markers (``admin_notices``, kind ``channel_resumed:<id>``, period = when).
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.clock import to_ts
from bot.storage.db import Database, Tx


def _resume_kind(channel_id: int) -> str:
    return f"channel_resumed:{channel_id}"


class ChannelHealthRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def failures_since_last_post_in(tx: Tx, guild_id: int, channel_id: int) -> tuple[int, str]:
        """Deliveries given up in a channel since its last successful post or an admin's resume,
        and a key naming that stretch, so admins are told once per stretch."""
        # One statement (every accept runs it): the stretch starts at the later of the last resume
        # and the last successful post. DOUBLE PRECISION, not REAL: PostgreSQL's REAL is 4 bytes and
        # would round the moment of a resume by minutes (SQLite reads both names as its 8-byte REAL).
        row = await tx.fetchone(
            "WITH stretch AS (SELECT MAX(moment) AS since FROM ("
            " SELECT MAX(CAST(period AS DOUBLE PRECISION)) AS moment FROM admin_notices"
            " WHERE guild_id = ? AND kind = ?"
            " UNION ALL SELECT MAX(delivered_at) FROM jobs"
            " WHERE guild_id = ? AND channel_id = ? AND state = 'delivered'"
            " UNION ALL SELECT 0.0) AS moments)"
            " SELECT stretch.since AS since, (SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND channel_id = ?"
            " AND error_code = 'delivery_failed' AND finished_at > stretch.since) AS failures FROM stretch",
            (guild_id, _resume_kind(channel_id), guild_id, channel_id, guild_id, channel_id),
        )
        assert row is not None  # an aggregate always returns one row
        since, failures = float(row["since"]), row["failures"]
        return int(failures), f"{since:.3f}"

    async def failures_since_last_post(self, guild_id: int, channel_id: int) -> tuple[int, str]:
        async def read(tx: Tx) -> tuple[int, str]:
            return await self.failures_since_last_post_in(tx, guild_id, channel_id)

        return await self.db.read(read)

    @staticmethod
    async def resume_in(tx: Tx, guild_id: int, channel_id: int, at: datetime) -> None:
        """Forgive every failure so far: the channel takes jobs again."""
        await tx.execute(
            "INSERT INTO admin_notices (guild_id, kind, period, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (guild_id, _resume_kind(channel_id), f"{to_ts(at):.3f}", to_ts(at)),
        )
