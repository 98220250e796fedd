"""PostgreSQL's schema is SQLite's schema: same tables, columns, unique and partial indexes and
append-only triggers; Discord ids are BIGINT; migrations run once however many processes start."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from bot.storage.db import Database, IntegrityError, Migration, SchemaError, bundled_migrations
from tests.backends import Backend

pytestmark = pytest.mark.postgres_only

REPO = Path(__file__).resolve().parents[2]
_TYPES = {"INTEGER": {"integer", "bigint"}, "TEXT": {"text"}, "REAL": {"double precision"}}


def sqlite_schema(path: Path) -> dict[str, object]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        ]
        columns = {
            t: [(r[1], r[2], bool(r[3] or r[5])) for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables
        }
        indexes: dict[str, set[tuple[bool, tuple[str, ...], bool]]] = {}
        for table in tables:
            found = set()
            for _, name, unique, origin, partial in conn.execute(f"PRAGMA index_list({table})"):
                if origin == "pk":
                    continue
                cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({name})"))
                found.add((bool(unique), cols, bool(partial)))
            indexes[table] = found
        named = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        }
        triggers = {
            (row[0], row[1]) for row in conn.execute("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
        }
    finally:
        conn.close()
    events = {(table, event) for table, sql in triggers for event in ("UPDATE", "DELETE") if f"BEFORE {event}" in sql}
    return {"columns": columns, "indexes": indexes, "named": named, "triggers": events}


async def postgres_schema(url: str) -> dict[str, object]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity"
            " FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name <> 'schema_migrations' ORDER BY table_name, ordinal_position"
        )
        columns: dict[str, list[tuple[str, str, bool, bool]]] = {}
        for r in rows:
            columns.setdefault(r["table_name"], []).append(
                (r["column_name"], r["data_type"], r["is_nullable"] == "NO", r["is_identity"] == "YES")
            )
        index_rows = await conn.fetch(
            "SELECT t.relname AS table_name, i.relname AS index_name, x.indisunique AS is_unique,"
            " x.indisprimary AS is_primary, x.indpred IS NOT NULL AS partial,"
            " ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)"
            "       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n) AS cols"
            " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
            " JOIN pg_namespace s ON s.oid = t.relnamespace"
            " WHERE s.nspname = current_schema() AND t.relname <> 'schema_migrations'"
        )
        indexes: dict[str, set[tuple[bool, tuple[str, ...], bool]]] = {t: set() for t in columns}
        named = set()
        for r in index_rows:
            if r["is_primary"]:
                continue
            indexes[r["table_name"]].add((r["is_unique"], tuple(r["cols"]), r["partial"]))
            named.add(r["index_name"])
        trigger_rows = await conn.fetch(
            "SELECT c.relname AS table_name, t.tgtype AS type FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = current_schema() AND NOT t.tgisinternal"
        )
    finally:
        await conn.close()
    # tgtype bits: 8 DELETE, 16 UPDATE, 32 TRUNCATE.
    events = {
        (r["table_name"], event)
        for r in trigger_rows
        for bit, event in ((16, "UPDATE"), (8, "DELETE"), (32, "TRUNCATE"))
        if r["type"] & bit
    }
    return {"columns": columns, "indexes": indexes, "named": named, "triggers": events}


@pytest_asyncio.fixture
async def both(tmp_path: Path, backend: Backend) -> AsyncIterator[tuple[dict[str, object], dict[str, object], str]]:
    sqlite_path = tmp_path / "wanbot.sqlite3"
    url = backend.target(tmp_path)
    for target in (str(sqlite_path), url):
        await (await Database.open(target)).close()
    yield sqlite_schema(sqlite_path), await postgres_schema(url), url


async def test_same_tables_and_columns_with_discord_ids_as_bigint(both: Any) -> None:
    lite, pg, _ = both
    assert sorted(pg["columns"]) == sorted(lite["columns"])
    for table, lite_columns in lite["columns"].items():
        pg_columns = pg["columns"][table]
        assert [c[0] for c in pg_columns] == [c[0] for c in lite_columns], table
        for (name, lite_type, lite_required), (_, pg_type, pg_required, _) in zip(
            lite_columns, pg_columns, strict=True
        ):
            assert pg_type in _TYPES[lite_type], (table, name, lite_type, pg_type)
            assert pg_required == lite_required, (table, name)
            if lite_type == "INTEGER" and (name == "id" or name.endswith("_id")):
                assert pg_type == "bigint", (table, name)


async def test_same_unique_and_partial_indexes(both: Any) -> None:
    lite, pg, _ = both
    assert pg["indexes"] == lite["indexes"]
    assert lite["named"] <= pg["named"]


async def test_ledger_and_audit_log_refuse_update_delete_and_truncate(both: Any) -> None:
    lite, pg, url = both
    append_only = {("ledger", "UPDATE"), ("ledger", "DELETE"), ("audit_log", "UPDATE"), ("audit_log", "DELETE")}
    assert lite["triggers"] == append_only
    assert pg["triggers"] == append_only | {("ledger", "TRUNCATE"), ("audit_log", "TRUNCATE")}
    db = await Database.open(url)
    try:
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO ledger (guild_id, member_id, kind, amount, created_at) VALUES (?, ?, 'grant', 5, 0)",
                (2**40, 2**41),
            )
            await tx.execute("INSERT INTO audit_log (guild_id, action, created_at) VALUES (?, 'x', 0)", (2**40,))
        for statement in ("UPDATE {} SET guild_id = 1", "DELETE FROM {}", "TRUNCATE {}"):
            for table, what in (("ledger", "the ledger"), ("audit_log", "the audit log")):
                with pytest.raises(IntegrityError, match=f"{what} is append-only"):
                    async with db.transaction() as tx:
                        await tx.execute(statement.format(table))
        assert await db.fetchval("SELECT COUNT(*) FROM ledger") == 1
        assert await db.fetchval("SELECT member_id FROM ledger") == 2**41  # a real Discord-sized id
    finally:
        await db.close()


async def test_a_schema_newer_than_the_bot_is_refused(tmp_path: Path, backend: Backend) -> None:
    url = backend.target(tmp_path)
    later = Migration(len(bundled_migrations("postgresql")) + 1, "9999_later.sql", "CREATE TABLE later (x INTEGER);")
    await (await Database.open(url, migrations=[*bundled_migrations("postgresql"), later])).close()
    with pytest.raises(SchemaError, match="newer than this bot knows"):
        await Database.open(url)
    with pytest.raises(SchemaError, match="newer than this bot knows"):
        await Database.open_existing(url)


async def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path, backend: Backend) -> None:
    url = backend.target(tmp_path)
    good = bundled_migrations("postgresql")
    broken = Migration(len(good) + 1, "9999_broken.sql", "CREATE TABLE half (x INTEGER); SELECT no_such_function();")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await Database.open(url, migrations=[*good, broken])
    db = await Database.open(url)
    try:
        assert await db.schema_version() == len(good)
        assert await db.fetchval("SELECT to_regclass('half')") is None
    finally:
        await db.close()


_MIGRATE = textwrap.dedent(
    """
    import asyncio, sys
    from bot.storage.db import Database

    async def main() -> None:
        db = await Database.open(sys.argv[1])
        print(await db.schema_version())
        await db.close()

    asyncio.run(main())
    """
)


async def test_processes_starting_together_migrate_once(tmp_path: Path, backend: Backend) -> None:
    url = backend.target(tmp_path)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _MIGRATE, url, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    outputs = [await process.communicate() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], [err.decode() for _, err in outputs]
    latest = len(bundled_migrations("postgresql"))
    assert [out.decode().strip() for out, _ in outputs] == [str(latest)] * 3
    conn = await asyncpg.connect(url)
    try:
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")]
    finally:
        await conn.close()
    assert versions == list(range(1, latest + 1))
