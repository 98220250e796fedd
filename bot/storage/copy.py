"""``python -m bot migrate-to URL``: copy a SQLite database into an empty PostgreSQL one.

Every table is copied in the order SQLite created it (so a row's foreign keys already exist),
each ordered by ``id`` with its ids kept, in ONE PostgreSQL transaction, and the identity
sequences are moved past the copied ids. Nothing has to be switched off for the copy: the
append-only triggers on the ledger and the audit log refuse UPDATE, DELETE and TRUNCATE, and
the copy only inserts (no ``session_replication_role = replica``, no superuser needed). Before
it commits, the copy checks that every table has as many rows as the source and that the
ledger sums match per member and per server; any difference rolls everything back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.storage.db import Database
from bot.storage.postgres import PostgresDatabase
from bot.storage.sqlite import SqliteDatabase

# Rows read from SQLite and handed to PostgreSQL's COPY at a time.
_BATCH = 5_000
# The PostgreSQL adapter's own bookkeeping (SQLite keeps its version in PRAGMA user_version).
_NOT_COPIED = frozenset({"schema_migrations"})


class CopyRefused(Exception):
    """The copy did not start, or was rolled back; the message says why and what to do."""


@dataclass(slots=True)
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)
    ledger_members: int = 0
    ledger_servers: int = 0
    # Tables of the source that the target's schema does not have and that held no rows.
    skipped_empty: list[str] = field(default_factory=list)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _source_tables(source: SqliteDatabase) -> list[tuple[str, list[str]]]:
    rows = await source.fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    )
    tables: list[tuple[str, list[str]]] = []
    for row in rows:
        name = str(row[0])
        if name in _NOT_COPIED:
            continue
        columns = await source.fetchall(f"SELECT name FROM pragma_table_info('{name}') ORDER BY cid")
        tables.append((name, [str(column[0]) for column in columns]))
    return tables


def _coerce(value: Any, data_type: str) -> Any:
    """SQLite keeps what it was given; PostgreSQL's COPY wants the column's own type."""
    if value is None:
        return None
    if data_type in ("text", "character varying"):
        return value if isinstance(value, str) else str(value)
    if data_type == "double precision":
        return float(value)
    if data_type in ("integer", "bigint", "smallint"):
        return int(value)
    return value


async def copy_sqlite_to_postgres(source: Database, target: Database) -> CopyReport:
    """Copy everything from ``source`` (SQLite) into ``target`` (PostgreSQL, migrated, empty)."""
    if not isinstance(source, SqliteDatabase) or not isinstance(target, PostgresDatabase):
        raise CopyRefused("migrate-to copies a SQLite database into PostgreSQL")
    source_version, target_version = await source.schema_version(), await target.schema_version()
    if source_version != target_version:
        raise CopyRefused(
            f"the SQLite database is at schema version {source_version} and PostgreSQL at {target_version};"
            " run this bot's version on both (it migrates them) before copying"
        )
    tables = await _source_tables(source)
    report = CopyReport()
    async with target.raw_connection() as conn, conn.transaction():
        schema = await conn.fetchval("SELECT current_schema()")
        types: dict[str, dict[str, str]] = {}
        for row in await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = $1",
            schema,
        ):
            types.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
        for name in types:
            if name not in _NOT_COPIED and await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {_quoted(name)})"):
                raise CopyRefused(
                    f"the PostgreSQL database is not empty (table {name} has rows); migrate-to only fills a new,"
                    " empty database, so nothing is merged or overwritten"
                )
        for name, columns in tables:
            count = int(await source.fetchval(f"SELECT COUNT(*) FROM {_quoted(name)}"))
            target_columns = types.get(name)
            if target_columns is None:
                if count:
                    raise CopyRefused(f"PostgreSQL has no table {name} ({count} rows in SQLite): its schema is older")
                report.skipped_empty.append(name)
                continue
            missing = [column for column in columns if column not in target_columns]
            if missing:
                raise CopyRefused(f"PostgreSQL's table {name} has no column {', '.join(missing)}: its schema differs")
            await _copy_table(source, conn, schema, name, columns, target_columns)
            report.rows[name] = count
            copied = int(await conn.fetchval(f"SELECT COUNT(*) FROM {_quoted(name)}"))
            if copied != count:
                raise CopyRefused(f"table {name}: {count} rows in SQLite but {copied} copied; nothing was kept")
            if "id" in columns and count:
                # Identity columns take explicit ids in a copy; new rows must start after them.
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence($1, 'id'), (SELECT MAX(id) FROM {_quoted(name)}))",
                    f"{_quoted(schema)}.{_quoted(name)}",
                )
        report.ledger_members, report.ledger_servers = await _ledger_sums_match(source, conn)
    return report


async def _copy_table(
    source: SqliteDatabase, conn: Any, schema: str, name: str, columns: list[str], types: dict[str, str]
) -> None:
    order = "id" if "id" in columns else "rowid"
    listed = ", ".join(_quoted(column) for column in columns)
    column_types = [types[column] for column in columns]
    last: Any = None
    while True:
        # Keyset pages: constant cost per page however large the table.
        where = "" if last is None else f" WHERE {order} > ?"
        rows = await source.fetchall(
            f"SELECT {order}, {listed} FROM {_quoted(name)}{where} ORDER BY {order} LIMIT {_BATCH}",
            () if last is None else (last,),
        )
        if not rows:
            return
        records = [tuple(_coerce(row[index + 1], column_types[index]) for index in range(len(columns))) for row in rows]
        await conn.copy_records_to_table(name, records=records, columns=columns, schema_name=schema)
        last = rows[-1][0]


_SUMS = "SELECT guild_id, member_id, SUM(amount), COUNT(*) FROM ledger GROUP BY guild_id, member_id"


def _by_member(rows: Sequence[Any]) -> dict[tuple[int, int], tuple[int, int]]:
    return {(int(row[0]), int(row[1])): (int(row[2]), int(row[3])) for row in rows}


async def _ledger_sums_match(source: SqliteDatabase, conn: Any) -> tuple[int, int]:
    before = _by_member(await source.fetchall(_SUMS))
    after = _by_member(await conn.fetch(_SUMS))
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            guild_id, member_id = key
            raise CopyRefused(
                f"the ledger of member {member_id} in server {guild_id} does not match after the copy"
                f" (SQLite {before.get(key)}, PostgreSQL {after.get(key)}: sum, entries); nothing was kept"
            )
    servers_before: dict[int, int] = {}
    for (guild_id, _member), (total, _entries) in before.items():
        servers_before[guild_id] = servers_before.get(guild_id, 0) + total
    servers_after = {
        int(row[0]): int(row[1]) for row in await conn.fetch("SELECT guild_id, SUM(amount) FROM ledger GROUP BY 1")
    }
    if servers_before != servers_after:
        raise CopyRefused("the ledger's sums per server do not match after the copy; nothing was kept")
    return len(before), len(servers_before)
