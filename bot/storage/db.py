"""The SQLite connection: WAL mode, numbered migrations, and serialized transactions.

One aiosqlite connection serves the whole bot. Because coroutines share it, every
statement goes through one asyncio lock: otherwise a read from one coroutine could run
inside another's open transaction. SQLite statements take microseconds, so the lock costs
nothing measurable (see bench/) and buys simple, provable money paths.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

Params = Sequence[Any] | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """Split on statement boundaries; ``complete_statement`` keeps trigger bodies whole."""
        statements: list[str] = []
        buffer = ""
        for line in self.sql.splitlines(keepends=True):
            stripped = line.strip()
            if not buffer and (not stripped or stripped.startswith("--")):
                continue
            buffer += line
            if sqlite3.complete_statement(buffer):
                statements.append(buffer.strip())
                buffer = ""
        if buffer.strip():
            raise ValueError(f"migration {self.name} ends inside an unterminated statement")
        return statements


def bundled_migrations() -> list[Migration]:
    folder = resources.files("bot.storage") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migrations must be numbered 1..N without gaps; found {migration.name}")
    return found


async def _run(conn: aiosqlite.Connection, sql: str) -> None:
    """Run a statement and close its cursor at once: an open cursor keeps its statement
    "in progress" until garbage collection, and COMMIT refuses to run while one is."""
    cursor = await conn.execute(sql)
    await cursor.close()


class Tx:
    """The statements of one open transaction. Only valid inside ``Database.transaction()``."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows changed."""
        cursor = await self._conn.execute(sql, params)
        try:
            return cursor.rowcount
        finally:
            await cursor.close()

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT; return the new row id."""
        cursor = await self._conn.execute(sql, params)
        try:
            rowid = cursor.lastrowid
        finally:
            await cursor.close()
        if rowid is None:
            raise RuntimeError("INSERT produced no row id")
        return rowid

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._conn.execute(sql, params) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
            return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


class Database:
    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self.path = path

    @classmethod
    async def open(cls, path: str | Path, *, migrations: Iterable[Migration] | None = None) -> Database:
        """Open (creating if needed) and migrate the database at ``path``."""
        path_str = str(path)
        if path_str != ":memory:":
            Path(path_str).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, never implicitly.
        conn = await aiosqlite.connect(path_str, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            await _run(conn, "PRAGMA journal_mode = WAL")
            # FULL: a committed hold or settlement survives power loss, not only a process crash.
            await _run(conn, "PRAGMA synchronous = FULL")
            await _run(conn, "PRAGMA foreign_keys = ON")
            await _run(conn, "PRAGMA busy_timeout = 5000")
            db = cls(conn, path_str)
            await db.migrate(bundled_migrations() if migrations is None else list(migrations))
        except BaseException:
            await conn.close()
            raise
        return db

    @classmethod
    async def open_existing(cls, path: str | Path) -> Database:
        """Open a database file that must already exist, without migrating it.

        For operator tools that only read (``export-ledger``): they must not create an empty
        file at a mistyped path, nor upgrade a file a running older bot is using.
        """
        path_str = str(path)
        if not Path(path_str).is_file():  # noqa: ASYNC240 - one stat() before opening, like Database.open
            raise FileNotFoundError(f"no database file at {path_str}")
        conn = await aiosqlite.connect(path_str, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            await _run(conn, "PRAGMA busy_timeout = 5000")
            db = cls(conn, path_str)
            version = await db.schema_version()
            latest = bundled_migrations()[-1].version
            if version < 1:
                raise RuntimeError(f"{path_str} is not a wanbot database (schema version 0)")
            if version > latest:
                raise RuntimeError(f"the database is at schema version {version}, newer than this bot knows ({latest})")
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()

    async def schema_version(self) -> int:
        async with self._lock, self._conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self, migrations: list[Migration]) -> int:
        """Apply every migration newer than the file, each in its own transaction with its version bump.

        ``executescript`` would commit first, so statements run one by one inside BEGIN…COMMIT:
        a failing migration leaves the file exactly at the previous version.
        """
        current = await self.schema_version()
        latest = migrations[-1].version if migrations else 0
        if current > latest:
            raise RuntimeError(
                f"the database is at schema version {current}, newer than this bot knows ({latest}); "
                "upgrade the bot or restore a matching backup"
            )
        for migration in migrations:
            if migration.version <= current:
                continue
            async with self.transaction() as tx:
                for statement in migration.statements():
                    await tx.execute(statement)
                # PRAGMA user_version is part of the transaction: it rolls back with it.
                await tx.execute(f"PRAGMA user_version = {int(migration.version)}")
            log.info("database migrated to version %d (%s)", migration.version, migration.name)
            current = migration.version
        return current

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """One write transaction. BEGIN IMMEDIATE takes the write lock up front, so a
        read-then-write inside cannot be invalidated by another writer (another process
        such as ``python -m bot backup`` included)."""
        async with self._lock:
            await _run(self._conn, "BEGIN IMMEDIATE")
            try:
                yield Tx(self._conn)
            except BaseException:
                await _run(self._conn, "ROLLBACK")
                raise
            else:
                await _run(self._conn, "COMMIT")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Tx]:
        """Several reads that see one consistent snapshot."""
        async with self._lock:
            await _run(self._conn, "BEGIN")
            try:
                yield Tx(self._conn)
            finally:
                await _run(self._conn, "COMMIT")

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._lock:
            return await Tx(self._conn).fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._lock:
            return await Tx(self._conn).fetchall(sql, params)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        async with self._lock:
            return await Tx(self._conn).fetchval(sql, params)
