"""The audit log: append-only (SQLite triggers refuse UPDATE and DELETE), newest first when read.

Every write takes the open transaction of the action it records, so an action and its entry
are committed together or not at all.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.clock import from_ts, to_ts
from bot.domain.moderation import AuditAction, AuditEntry
from bot.storage.db import Database, Row, Tx, storable_text

_COLUMNS = "id, guild_id, actor_id, action, target_member_id, job_id, reason, detail, created_at"
# Longest free text kept per entry: a reason is a sentence, not an essay.
MAX_TEXT = 500


def _entry(row: Row) -> AuditEntry:
    created = from_ts(row["created_at"])
    assert created is not None
    return AuditEntry(
        id=row["id"],
        guild_id=row["guild_id"],
        actor_id=row["actor_id"],
        action=AuditAction(row["action"]),
        target_member_id=row["target_member_id"],
        job_id=row["job_id"],
        reason=row["reason"],
        detail=row["detail"],
        created_at=created,
    )


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    text = storable_text(text).strip()  # a provider refusal's detail is the provider's text
    return (text[: MAX_TEXT - 1] + "…" if len(text) > MAX_TEXT else text) or None


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def record_in(
        tx: Tx,
        *,
        guild_id: int,
        actor_id: int | None,
        action: AuditAction,
        at: datetime,
        target_member_id: int | None = None,
        job_id: int | None = None,
        reason: str | None = None,
        detail: str | None = None,
    ) -> int:
        return await tx.insert(
            "INSERT INTO audit_log (guild_id, actor_id, action, target_member_id, job_id, reason, detail, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (guild_id, actor_id, action.value, target_member_id, job_id, _clip(reason), _clip(detail), to_ts(at)),
        )

    @staticmethod
    async def has_in(tx: Tx, job_id: int, action: AuditAction) -> bool:
        found = await tx.fetchval("SELECT 1 FROM audit_log WHERE job_id = ? AND action = ?", (job_id, action.value))
        return found is not None

    async def page(
        self, guild_id: int, *, limit: int, offset: int = 0, member_id: int | None = None
    ) -> tuple[list[AuditEntry], int]:
        """One page, newest first, and the total count. ``member_id`` keeps entries by or about them."""
        where = "guild_id = ?"
        params: list[int] = [guild_id]
        if member_id is not None:
            where += " AND (target_member_id = ? OR actor_id = ?)"
            params += [member_id, member_id]
        async with self.db.reading() as tx:
            total = int(await tx.fetchval(f"SELECT COUNT(*) FROM audit_log WHERE {where}", params))
            rows = await tx.fetchall(
                f"SELECT {_COLUMNS} FROM audit_log WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
        return [_entry(row) for row in rows], total

    async def entries(self, guild_id: int) -> list[AuditEntry]:
        """Everything for a server, oldest first (tests and exports)."""
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM audit_log WHERE guild_id = ? ORDER BY id", (guild_id,))
        return [_entry(row) for row in rows]
