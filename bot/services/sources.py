"""The message a job was started from (Animate/Transform with Wan), for the "Made from" link on its result."""

from __future__ import annotations

from bot.storage.sources import JobSourceRepository


class JobSources:
    def __init__(self, repo: JobSourceRepository) -> None:
        self._repo = repo

    async def record(self, job_id: int, guild_id: int, channel_id: int, message_id: int) -> None:
        await self._repo.record(job_id, guild_id, channel_id, message_id)

    async def get(self, job_id: int) -> tuple[int, int, int] | None:
        """(server, channel, message) of the source message, or None for a job not started from one."""
        return await self._repo.get(job_id)
