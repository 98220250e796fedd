"""The SQL shared by both backends: placeholders rewritten for asyncpg, the backend picked from the config."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, config_from_mapping
from bot.storage.db import bundled_migrations
from bot.storage.dialect import POSTGRESQL, SQLITE, numbered_placeholders
from bot.storage.postgres import lock_key, redacted


def test_placeholders_are_numbered_outside_quotes() -> None:
    sql = "SELECT '?' AS q, \"a?b\" FROM t WHERE x = ? AND y IN (?, ?) AND z = 'it''s ?'"
    assert numbered_placeholders(sql) == (
        "SELECT '?' AS q, \"a?b\" FROM t WHERE x = $1 AND y IN ($2, $3) AND z = 'it''s ?'"
    )


def test_the_one_day_expression_per_dialect() -> None:
    assert SQLITE.utc_day("h.created_at") == "date(h.created_at, 'unixepoch')"
    assert "to_timestamp(h.created_at) AT TIME ZONE 'UTC'" in POSTGRESQL.utc_day("h.created_at")


def test_database_url_selects_postgresql_and_path_stays_the_default() -> None:
    assert config_from_mapping({}, environ={}).database.target == "data/wanbot.sqlite3"
    url = "postgresql://wanbot:s3cret@db.internal/wanbot"
    config = config_from_mapping({"database": {"url": url}}, environ={})
    assert config.database.target == url
    assert "s3cret" not in repr(config.database)
    with pytest.raises(ConfigError, match=r"database\.url"):
        config_from_mapping({"database": {"url": "mysql://db/wanbot"}}, environ={})


def test_the_url_shown_to_operators_has_no_password() -> None:
    assert (
        redacted("postgresql://wanbot:s3cret@db.internal:5432/wanbot")
        == "postgresql://wanbot:***@db.internal:5432/wanbot"
    )
    assert redacted("postgresql://postgres@/wanbot?host=/tmp/x") == "postgresql://postgres@/wanbot?host=/tmp/x"


def test_lock_keys_are_stable_signed_64_bit_numbers() -> None:
    key = lock_key(("member", 1, 2))
    assert key == lock_key(("member", 1, 2)) != lock_key(("member", 2, 1))
    assert -(2**63) <= key < 2**63


def test_both_backends_ship_the_same_migration_numbers() -> None:
    """A migration added for one backend needs its twin: the schema test then compares the result."""
    sqlite = [(m.version, m.name) for m in bundled_migrations("sqlite")]
    postgresql = [(m.version, m.name) for m in bundled_migrations("postgresql")]
    assert postgresql == sqlite
