"""Migrations: from an empty file, from every earlier version, and atomically."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.storage.db import Database, Migration, bundled_migrations

# The SQLite file's own migrations; PostgreSQL's are in test_postgres_schema.py.
pytestmark = pytest.mark.sqlite_only


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}


async def test_empty_file_reaches_the_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "new" / "bot.sqlite3"
    db = await Database.open(path)
    try:
        assert await db.schema_version() == bundled_migrations()[-1].version
        assert await db.fetchval("PRAGMA journal_mode") == "wal"
    finally:
        await db.close()
    assert {"jobs", "ledger", "ledger_one_settlement"} <= tables(path)


@pytest.mark.parametrize("start", range(1, len(bundled_migrations()) + 1))
async def test_each_earlier_version_upgrades(tmp_path: Path, start: int) -> None:
    path = tmp_path / "bot.sqlite3"
    migrations = bundled_migrations()
    db = await Database.open(path, migrations=migrations[:start])
    assert await db.schema_version() == start
    await db.close()
    db = await Database.open(path)
    try:
        assert await db.schema_version() == migrations[-1].version
    finally:
        await db.close()
    # Same schema as a file built from nothing.
    fresh = tmp_path / "fresh.sqlite3"
    await (await Database.open(fresh)).close()
    assert tables(path) == tables(fresh)


async def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    good = bundled_migrations()
    broken = Migration(len(good) + 1, "9999_broken.sql", "CREATE TABLE half_done (x INTEGER);\nNOT SQL AT ALL;\n")
    with pytest.raises(sqlite3.OperationalError):
        await Database.open(path, migrations=[*good, broken])
    db = await Database.open(path)
    try:
        assert await db.schema_version() == good[-1].version
    finally:
        await db.close()
    assert "half_done" not in tables(path)


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await (await Database.open(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(RuntimeError, match="newer than this bot knows"):
        await Database.open(path)


def test_trigger_bodies_stay_whole() -> None:
    statements = bundled_migrations()[0].statements()
    trigger = next(s for s in statements if s.startswith("CREATE TRIGGER ledger_no_update"))
    assert trigger.rstrip().endswith("END;")
