"""The message a job was started from (Animate/Transform with Wan), for the jump link on its result."""

from __future__ import annotations

from bot.storage.db import Database


class JobSourceRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, job_id: int, guild_id: int, channel_id: int, message_id: int) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO job_sources (job_id, guild_id, channel_id, message_id) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (job_id) DO NOTHING",
                (job_id, guild_id, channel_id, message_id),
            )

    async def get(self, job_id: int) -> tuple[int, int, int] | None:
        row = await self.db.fetchone(
            "SELECT guild_id, channel_id, message_id FROM job_sources WHERE job_id = ?", (job_id,)
        )
        return None if row is None else (row["guild_id"], row["channel_id"], row["message_id"])
