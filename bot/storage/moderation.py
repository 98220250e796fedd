"""Per-server moderation state: settings, prompt rules and member blocks."""

from __future__ import annotations

from datetime import datetime

from bot.domain.clock import from_ts, to_ts
from bot.domain.moderation import Block, ModerationSettings, PromptRule, RuleKind
from bot.storage.db import Database, Row, Tx

_SETTINGS = "guild_id, review_enabled, review_channel_id, refund_on_reject, mod_channel_id"
_RULES = "id, guild_id, kind, value, actor_id, created_at"
_BLOCKS = "guild_id, member_id, actor_id, reason, created_at"


def _settings(row: Row) -> ModerationSettings:
    return ModerationSettings(
        guild_id=row["guild_id"],
        review_enabled=bool(row["review_enabled"]),
        review_channel_id=row["review_channel_id"],
        refund_on_reject=bool(row["refund_on_reject"]),
        mod_channel_id=row["mod_channel_id"],
    )


def _rule(row: Row) -> PromptRule:
    created = from_ts(row["created_at"])
    assert created is not None
    return PromptRule(
        id=row["id"],
        guild_id=row["guild_id"],
        kind=RuleKind(row["kind"]),
        value=row["value"],
        actor_id=row["actor_id"],
        created_at=created,
    )


def _block(row: Row) -> Block:
    created = from_ts(row["created_at"])
    assert created is not None
    return Block(
        guild_id=row["guild_id"],
        member_id=row["member_id"],
        actor_id=row["actor_id"],
        reason=row["reason"],
        created_at=created,
    )


class ModerationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Read by every /video, written by moderators (bot.storage.caches).
        self._rules = db.caches.register("rules", self._rules_in)
        self._blocks = db.caches.register("blocks", self._blocks_in)

    # --- settings --------------------------------------------------------------------------

    @staticmethod
    async def settings_in(tx: Tx, guild_id: int) -> ModerationSettings:
        row = await tx.fetchone(f"SELECT {_SETTINGS} FROM moderation_settings WHERE guild_id = ?", (guild_id,))
        return ModerationSettings(guild_id) if row is None else _settings(row)

    async def settings(self, guild_id: int) -> ModerationSettings:
        row = await self.db.fetchone(f"SELECT {_SETTINGS} FROM moderation_settings WHERE guild_id = ?", (guild_id,))
        return ModerationSettings(guild_id) if row is None else _settings(row)

    @staticmethod
    async def save_settings_in(tx: Tx, settings: ModerationSettings, at: datetime) -> None:
        await tx.execute(
            f"INSERT INTO moderation_settings ({_SETTINGS}, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (guild_id) DO UPDATE SET review_enabled = excluded.review_enabled,"
            " review_channel_id = excluded.review_channel_id, refund_on_reject = excluded.refund_on_reject,"
            " mod_channel_id = excluded.mod_channel_id, updated_at = excluded.updated_at",
            (
                settings.guild_id,
                int(settings.review_enabled),
                settings.review_channel_id,
                int(settings.refund_on_reject),
                settings.mod_channel_id,
                to_ts(at),
            ),
        )

    # --- prompt rules ----------------------------------------------------------------------

    async def rules(self, guild_id: int) -> list[PromptRule]:
        return list(await self._rules.get(guild_id))

    async def cached_rules(self, guild_id: int) -> tuple[PromptRule, ...]:
        """The same tuple until the rules change: callers may key what they derive on its identity."""
        return await self._rules.get(guild_id)

    @staticmethod
    async def _rules_in(tx: Tx, guild_id: int) -> tuple[PromptRule, ...]:
        rows = await tx.fetchall(f"SELECT {_RULES} FROM prompt_rules WHERE guild_id = ? ORDER BY id", (guild_id,))
        return tuple(_rule(row) for row in rows)

    @staticmethod
    async def count_rules_in(tx: Tx, guild_id: int) -> int:
        return int(await tx.fetchval("SELECT COUNT(*) FROM prompt_rules WHERE guild_id = ?", (guild_id,)))

    @staticmethod
    async def find_rule_in(tx: Tx, guild_id: int, kind: RuleKind, value: str) -> PromptRule | None:
        row = await tx.fetchone(
            f"SELECT {_RULES} FROM prompt_rules WHERE guild_id = ? AND kind = ? AND value = ?",
            (guild_id, kind.value, value),
        )
        return None if row is None else _rule(row)

    @staticmethod
    async def get_rule_in(tx: Tx, guild_id: int, rule_id: int) -> PromptRule | None:
        row = await tx.fetchone(f"SELECT {_RULES} FROM prompt_rules WHERE guild_id = ? AND id = ?", (guild_id, rule_id))
        return None if row is None else _rule(row)

    @staticmethod
    async def add_rule_in(tx: Tx, guild_id: int, kind: RuleKind, value: str, actor_id: int, at: datetime) -> int:
        rule_id = await tx.insert(
            "INSERT INTO prompt_rules (guild_id, kind, value, actor_id, created_at) VALUES (?, ?, ?, ?, ?)",
            (guild_id, kind.value, value, actor_id, to_ts(at)),
        )
        await tx.changed("rules", guild_id)
        return rule_id

    @staticmethod
    async def delete_rule_in(tx: Tx, guild_id: int, rule_id: int) -> bool:
        deleted = await tx.execute("DELETE FROM prompt_rules WHERE guild_id = ? AND id = ?", (guild_id, rule_id))
        await tx.changed("rules", guild_id)
        return deleted == 1

    # --- blocks ----------------------------------------------------------------------------

    async def block(self, guild_id: int, member_id: int) -> Block | None:
        return (await self._blocks.get(guild_id)).get(member_id)

    @staticmethod
    async def _blocks_in(tx: Tx, guild_id: int) -> dict[int, Block]:
        rows = await tx.fetchall(f"SELECT {_BLOCKS} FROM member_blocks WHERE guild_id = ?", (guild_id,))
        return {int(row["member_id"]): _block(row) for row in rows}

    @staticmethod
    async def block_in(tx: Tx, guild_id: int, member_id: int) -> Block | None:
        row = await tx.fetchone(
            f"SELECT {_BLOCKS} FROM member_blocks WHERE guild_id = ? AND member_id = ?", (guild_id, member_id)
        )
        return None if row is None else _block(row)

    @staticmethod
    async def add_block_in(
        tx: Tx, guild_id: int, member_id: int, actor_id: int, reason: str | None, at: datetime
    ) -> None:
        await tx.execute(
            f"INSERT INTO member_blocks ({_BLOCKS}) VALUES (?, ?, ?, ?, ?)",
            (guild_id, member_id, actor_id, reason, to_ts(at)),
        )
        await tx.changed("blocks", guild_id)

    @staticmethod
    async def delete_block_in(tx: Tx, guild_id: int, member_id: int) -> bool:
        changed = await tx.execute(
            "DELETE FROM member_blocks WHERE guild_id = ? AND member_id = ?", (guild_id, member_id)
        )
        await tx.changed("blocks", guild_id)
        return changed == 1
