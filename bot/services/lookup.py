"""Short read-only lists for autocomplete: a few rows matching what a member has typed so far.

Autocomplete must answer within 3 seconds and offers at most 25 choices, so each query reads at
most that many rows through an index on the job id or the member.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Database

MAX_CHOICES = 25  # Discord's cap on autocomplete choices


@dataclass(frozen=True, slots=True)
class JobChoice:
    job_id: int
    member_id: int
    state: str
    price: int
    prompt: str


def _typed_id(typed: str) -> str:
    """What was typed, as the start of a job number ('#12', ' 12 ' → '12')."""
    return "".join(ch for ch in typed if ch.isdigit())


class JobLookup:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _choices(self, where: str, params: tuple[object, ...], typed: str) -> list[JobChoice]:
        digits = _typed_id(typed)
        sql = f"SELECT id, member_id, state, price, prompt FROM jobs WHERE {where}"
        if digits:
            sql += " AND CAST(id AS TEXT) LIKE ?"
            params = (*params, digits + "%")
        rows = await self.db.fetchall(sql + " ORDER BY id DESC LIMIT ?", (*params, MAX_CHOICES))
        return [
            JobChoice(int(r["id"]), int(r["member_id"]), str(r["state"]), int(r["price"]), str(r["prompt"]))
            for r in rows
        ]

    async def refundable(self, guild_id: int, typed: str) -> list[JobChoice]:
        """Delivered jobs in this server not refunded yet, newest first."""
        return await self._choices(
            "guild_id = ? AND state = 'delivered' AND NOT EXISTS"
            " (SELECT 1 FROM ledger WHERE ledger.job_id = jobs.id AND ledger.kind = 'adjust')",
            (guild_id,),
            typed,
        )

    async def cancellable(self, guild_id: int, member_id: int, typed: str) -> list[JobChoice]:
        """The member's own jobs still waiting in the queue (not sent, no create on the wire)."""
        return await self._choices(
            "guild_id = ? AND member_id = ? AND state = 'accepted' AND submit_in_flight = 0",
            (guild_id, member_id),
            typed,
        )

    async def member_job_ids(self, guild_id: int, member_id: int, limit: int) -> list[int]:
        """The member's job ids, newest first (for history pages)."""
        rows = await self.db.fetchall(
            "SELECT id FROM jobs WHERE guild_id = ? AND member_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, member_id, limit),
        )
        return [int(row["id"]) for row in rows]
