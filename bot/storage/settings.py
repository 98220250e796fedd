"""Per-server settings: allowance policy, budget cap, allowed channels, admin channel, notice markers.

Reads that decide money (allowances, caps) take the open transaction, so a refill or a hold
sees the same settings it is written with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.clock import to_ts
from bot.domain.models import GuildSettings
from bot.storage.db import Database, Row, Tx

# Columns ``update_in`` may set; names never come from input, only from this list.
_SETTABLE = frozenset(
    {"default_allowance", "refill_period", "budget_cap", "budget_period", "admin_channel_id", "public_gallery"}
)


def _settings(guild_id: int, row: Row | None) -> GuildSettings:
    if row is None:
        return GuildSettings(guild_id=guild_id)
    return GuildSettings(
        guild_id=guild_id,
        default_allowance=row["default_allowance"],
        refill_period=row["refill_period"],
        budget_cap=row["budget_cap"],
        budget_period=row["budget_period"],
        admin_channel_id=row["admin_channel_id"],
        public_gallery=bool(row["public_gallery"]),
    )


class SettingsRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Read by every /video, written by a few admin commands (bot.storage.caches).
        self._settings = db.caches.register("settings", self.get_in)
        self._roles = db.caches.register("roles", self.role_allowances_in)
        self._channels = db.caches.register("channels", self._allowed_channels_in)

    async def cached_in(self, tx: Tx, guild_id: int) -> GuildSettings:
        """The server's settings for a unit of work: from the cache, else read through ``tx``."""
        return await self._settings.get_in(tx, guild_id)

    async def cached_role_allowances_in(self, tx: Tx, guild_id: int) -> dict[int, int]:
        return await self._roles.get_in(tx, guild_id)

    # --- server settings -----------------------------------------------------------------------

    @staticmethod
    async def get_in(tx: Tx, guild_id: int) -> GuildSettings:
        row = await tx.fetchone(
            "SELECT default_allowance, refill_period, budget_cap, budget_period, admin_channel_id, public_gallery"
            " FROM guild_settings WHERE guild_id = ?",
            (guild_id,),
        )
        return _settings(guild_id, row)

    async def get(self, guild_id: int) -> GuildSettings:
        async with self.db.reading() as tx:
            return await self.get_in(tx, guild_id)

    @staticmethod
    async def update_in(tx: Tx, guild_id: int, *, at: datetime, actor_id: int | None, **fields: Any) -> None:
        """Set some columns (``None`` restores the config's default), creating the row if needed."""
        unknown = set(fields) - _SETTABLE
        if unknown or not fields:
            raise ValueError(f"not settable: {sorted(unknown)}")
        names = list(fields)
        columns = ", ".join(names)
        placeholders = ", ".join("?" for _ in names)
        updates = ", ".join(f"{name} = excluded.{name}" for name in names)
        await tx.execute(
            f"INSERT INTO guild_settings (guild_id, {columns}, updated_at, updated_by) VALUES (?, {placeholders}, ?, ?)"
            f" ON CONFLICT (guild_id) DO UPDATE SET {updates}, updated_at = excluded.updated_at,"
            " updated_by = excluded.updated_by",
            [guild_id, *fields.values(), to_ts(at), actor_id],
        )
        await tx.changed("settings", guild_id)

    async def public_gallery(self, guild_id: int) -> bool:
        """Whether the server's admins let wan26ai show its videos in public galleries."""
        value = await self.db.fetchval("SELECT public_gallery FROM guild_settings WHERE guild_id = ?", (guild_id,))
        return bool(value)

    # --- role allowances -----------------------------------------------------------------------

    @staticmethod
    async def role_allowances_in(tx: Tx, guild_id: int) -> dict[int, int]:
        rows = await tx.fetchall("SELECT role_id, amount FROM role_allowances WHERE guild_id = ?", (guild_id,))
        return {int(row["role_id"]): int(row["amount"]) for row in rows}

    @staticmethod
    async def set_role_allowance_in(
        tx: Tx, guild_id: int, role_id: int, amount: int, *, at: datetime, actor_id: int | None
    ) -> None:
        await tx.execute(
            "INSERT INTO role_allowances (guild_id, role_id, amount, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (guild_id, role_id) DO UPDATE SET amount = excluded.amount,"
            " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            (guild_id, role_id, amount, to_ts(at), actor_id),
        )
        await tx.changed("roles", guild_id)

    @staticmethod
    async def clear_role_allowance_in(tx: Tx, guild_id: int, role_id: int) -> bool:
        removed = await tx.execute(
            "DELETE FROM role_allowances WHERE guild_id = ? AND role_id = ?", (guild_id, role_id)
        )
        await tx.changed("roles", guild_id)
        return removed == 1

    # --- allowed channels ----------------------------------------------------------------------

    async def allowed_channels(self, guild_id: int) -> list[int]:
        return list(await self._channels.get(guild_id))

    @staticmethod
    async def _allowed_channels_in(tx: Tx, guild_id: int) -> tuple[int, ...]:
        rows = await tx.fetchall(
            "SELECT channel_id FROM allowed_channels WHERE guild_id = ? ORDER BY added_at, channel_id", (guild_id,)
        )
        return tuple(int(row["channel_id"]) for row in rows)

    @staticmethod
    async def add_channel_in(tx: Tx, guild_id: int, channel_id: int, *, at: datetime, actor_id: int | None) -> bool:
        added = await tx.execute(
            "INSERT INTO allowed_channels (guild_id, channel_id, added_at, added_by) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (guild_id, channel_id, to_ts(at), actor_id),
        )
        await tx.changed("channels", guild_id)
        return added == 1

    @staticmethod
    async def remove_channel_in(tx: Tx, guild_id: int, channel_id: int) -> bool:
        removed = await tx.execute(
            "DELETE FROM allowed_channels WHERE guild_id = ? AND channel_id = ?", (guild_id, channel_id)
        )
        await tx.changed("channels", guild_id)
        return removed == 1

    # --- "admins were told" markers ----------------------------------------------------------

    async def claim_notice(self, guild_id: int, kind: str, period: str, at: datetime) -> bool:
        """True for exactly one caller per (server, kind, period): the one that should tell the admins."""
        async with self.db.transaction() as tx:
            inserted = await tx.execute(
                "INSERT INTO admin_notices (guild_id, kind, period, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (guild_id, kind, period, to_ts(at)),
            )
        return inserted == 1

    async def release_notice(self, guild_id: int, kind: str, period: str) -> None:
        """The message could not be sent: let the next occasion try again."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "DELETE FROM admin_notices WHERE guild_id = ? AND kind = ? AND period = ?", (guild_id, kind, period)
            )
