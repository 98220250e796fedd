"""The SQLite backend: one aiosqlite connection, WAL mode, numbered migrations, serialized transactions.

One aiosqlite connection serves the whole bot. Because coroutines share it, every
statement goes through one asyncio lock: otherwise a read from one coroutine could run
inside another's open transaction. SQLite statements take microseconds, so the lock costs
nothing measurable (see bench/) and buys simple, provable money paths.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import aiosqlite

from bot.storage.db import (
    Database,
    IntegrityError,
    Migration,
    Params,
    Row,
    SchemaError,
    Tx,
    bundled_migrations,
    check_version,
)
from bot.storage.dialect import SQLITE
from bot.storage.single_process import ProcessLock

log = logging.getLogger(__name__)


async def _run(conn: aiosqlite.Connection, sql: str) -> None:
    """Run a statement and close its cursor at once: an open cursor keeps its statement
    "in progress" until garbage collection, and COMMIT refuses to run while one is."""
    cursor = await conn.execute(sql)
    await cursor.close()


class SqliteTx(Tx):
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def _cursor(self, sql: str, params: Params) -> aiosqlite.Cursor:
        try:
            return await self._conn.execute(sql, params)
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from error

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self._cursor(sql, params)
        try:
            return cursor.rowcount
        finally:
            await cursor.close()

    async def insert(self, sql: str, params: Params = ()) -> int:
        cursor = await self._cursor(sql, params)
        try:
            rowid = cursor.lastrowid
        finally:
            await cursor.close()
        if rowid is None:
            raise RuntimeError("INSERT produced no row id")
        return rowid

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        cursor = await self._cursor(sql, params)
        try:
            return cast(Row | None, await cursor.fetchone())
        finally:
            await cursor.close()

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = await self._cursor(sql, params)
        try:
            return cast(list[Row], list(await cursor.fetchall()))
        finally:
            await cursor.close()

    async def lock(self, *keys: tuple[object, ...]) -> None:
        # BEGIN IMMEDIATE already made this the only writer, in this process and any other.
        return None


class SqliteDatabase(Database):
    backend = "sqlite"
    dialect = SQLITE

    def __init__(self, conn: aiosqlite.Connection, path: str, process_lock: ProcessLock | None = None) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._process_lock = process_lock
        self.path = path
        # Holding the file's process lock: any job lease in the file is a dead process's.
        self.sole_process = process_lock is not None
        self.target = path
        self._read_only_uri = "" if path == ":memory:" else f"{Path(path).resolve().as_uri()}?mode=ro"

    @classmethod
    async def open(
        cls, path: str | Path, *, migrations: Iterable[Migration] | None = None, single_process: bool = False
    ) -> SqliteDatabase:
        """Open (creating if needed) and migrate the database at ``path``.

        ``single_process``: hold the file's process lock for as long as this is open, so a second
        bot process on the same file refuses to start (see ``bot.storage.single_process``).
        """
        path_str = str(path)
        if path_str != ":memory:":
            Path(path_str).parent.mkdir(parents=True, exist_ok=True)
        process_lock = ProcessLock.acquire(path_str) if single_process and path_str != ":memory:" else None
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, never implicitly.
            conn = await aiosqlite.connect(path_str, isolation_level=None)
        except BaseException:
            if process_lock is not None:
                process_lock.release()
            raise
        conn.row_factory = sqlite3.Row
        try:
            await _run(conn, "PRAGMA journal_mode = WAL")
            # FULL: a committed hold or settlement survives power loss, not only a process crash.
            await _run(conn, "PRAGMA synchronous = FULL")
            await _run(conn, "PRAGMA foreign_keys = ON")
            await _run(conn, "PRAGMA busy_timeout = 5000")
            db = cls(conn, path_str, process_lock)
            await db.migrate(bundled_migrations("sqlite") if migrations is None else list(migrations))
        except BaseException:
            await conn.close()
            if process_lock is not None:
                process_lock.release()
            raise
        return db

    @classmethod
    async def open_existing(cls, path: str | Path) -> SqliteDatabase:
        path_str = str(path)
        if not Path(path_str).is_file():  # noqa: ASYNC240 - one stat() before opening, like Database.open
            raise FileNotFoundError(f"no database file at {path_str}")
        conn = await aiosqlite.connect(path_str, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            await _run(conn, "PRAGMA busy_timeout = 5000")
            db = cls(conn, path_str)
            version = await db.schema_version()
            if version < 1:
                raise SchemaError(f"{path_str} is not a wanbot database (schema version 0)")
            check_version(version, bundled_migrations("sqlite")[-1].version)
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()
        if self._process_lock is not None:
            self._process_lock.release()
            self._process_lock = None

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
        check_version(current, migrations[-1].version if migrations else 0)
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
        """BEGIN IMMEDIATE takes the write lock up front, so a read-then-write inside cannot be
        invalidated by another writer (another process such as ``python -m bot backup`` included)."""
        async with self._lock:
            await _run(self._conn, "BEGIN IMMEDIATE")
            try:
                yield SqliteTx(self._conn)
            except BaseException:
                await _run(self._conn, "ROLLBACK")
                raise
            else:
                await _run(self._conn, "COMMIT")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Tx]:
        """A deferred transaction: WAL gives its reads one snapshot from the first read on."""
        async with self._lock:
            await _run(self._conn, "BEGIN")
            try:
                yield SqliteTx(self._conn)
            finally:
                await _run(self._conn, "COMMIT")

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Tx]:
        """A second, read-only connection: WAL lets it keep one snapshot while the bot writes."""
        if self.path == ":memory:":
            async with self.reading() as tx:
                yield tx
            return
        conn = await aiosqlite.connect(self._read_only_uri, uri=True, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            await _run(conn, "PRAGMA busy_timeout = 5000")
            await _run(conn, "BEGIN")
            # A deferred transaction's snapshot starts at its first read: take it now.
            await _run(conn, "SELECT COUNT(*) FROM sqlite_master")
            try:
                yield SqliteTx(conn)
            finally:
                await _run(conn, "COMMIT")
        finally:
            await conn.close()

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._lock:
            return await SqliteTx(self._conn).fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._lock:
            return await SqliteTx(self._conn).fetchall(sql, params)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        async with self._lock:
            return await SqliteTx(self._conn).fetchval(sql, params)
