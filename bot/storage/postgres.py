"""The PostgreSQL backend: an asyncpg pool, numbered migrations under an advisory lock.

Several bot processes share one database, so unlike SQLite nothing here serializes writers:
each transaction runs on its own pooled connection under READ COMMITTED, and the money paths
take transaction-level advisory locks (``Tx.lock``) before they read what they check.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.storage.caches import NOTIFY_CHANNEL, Caches
from bot.storage.db import (
    Database,
    IntegrityError,
    Migration,
    Params,
    Row,
    StorageStats,
    Tx,
    bundled_migrations,
    check_existing_schema,
    check_version,
)
from bot.storage.dialect import POSTGRESQL, numbered_placeholders

log = logging.getLogger(__name__)

# Created by the adapter, not by a migration: it records which migrations ran.
_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)
# One lock per schema: two processes starting together never both migrate, and test schemas
# in one database do not wait for each other.
_MIGRATION_LOCK = "SELECT pg_advisory_lock(hashtext('wanbot migrations ' || current_schema()))"
_MIGRATION_UNLOCK = "SELECT pg_advisory_unlock(hashtext('wanbot migrations ' || current_schema()))"


def redacted(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def lock_key(key: tuple[object, ...]) -> int:
    """A stable signed 64-bit advisory lock number for a lock name (a collision only serializes more)."""
    digest = hashlib.blake2b(repr(key).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _changed(status: str) -> int:
    """Rows changed, from a command status such as ``UPDATE 3`` or ``INSERT 0 1``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _positional(params: Params) -> list[Any]:
    if isinstance(params, dict):
        raise TypeError("the PostgreSQL backend takes positional ? parameters only")
    return list(params)


class PostgresTx(Tx):
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        try:
            status = await self._conn.execute(numbered_placeholders(sql), *_positional(params))
        except asyncpg.IntegrityConstraintViolationError as error:
            raise IntegrityError(str(error)) from error
        return _changed(status)

    async def insert(self, sql: str, params: Params = ()) -> int:
        try:
            new_id = await self._conn.fetchval(numbered_placeholders(sql) + " RETURNING id", *_positional(params))
        except asyncpg.IntegrityConstraintViolationError as error:
            raise IntegrityError(str(error)) from error
        if new_id is None:
            raise RuntimeError("INSERT produced no row id")
        return int(new_id)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        try:
            return cast(Row | None, await self._conn.fetchrow(numbered_placeholders(sql), *_positional(params)))
        except asyncpg.IntegrityConstraintViolationError as error:
            raise IntegrityError(str(error)) from error

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            return cast(list[Row], await self._conn.fetch(numbered_placeholders(sql), *_positional(params)))
        except asyncpg.IntegrityConstraintViolationError as error:
            raise IntegrityError(str(error)) from error

    async def changed(self, cache: str, guild_id: int) -> None:
        # NOTIFY is transactional: every process hears it when, and only if, this commits.
        await super().changed(cache, guild_id)
        await self._conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, f"{cache}:{guild_id}")

    async def lock(self, *keys: tuple[object, ...]) -> None:
        for key in keys:
            await self._conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(key))


class PostgresDatabase(Database):
    backend = "postgresql"
    dialect = POSTGRESQL

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self.stats = StorageStats()  # counted on SQLite only (bench/ measures SQLite)
        self.caches = Caches(self)
        self._pool = pool
        self._url = url
        self.target = redacted(url)
        self._listening: asyncpg.Connection | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    async def _connect(cls, url: str) -> PostgresDatabase:
        # statement_cache_size stays on: every repository statement is a fixed text.
        pool = await asyncpg.create_pool(url, min_size=1, max_size=10, command_timeout=60)
        return cls(pool, url)

    @classmethod
    async def open_url(cls, url: str, *, migrations: Iterable[Migration] | None = None) -> PostgresDatabase:
        db = await cls._connect(url)
        try:
            await db.migrate(bundled_migrations("postgresql") if migrations is None else list(migrations))
        except BaseException:
            await db.close()
            raise
        await db.listen_for_changes()
        return db

    @classmethod
    async def open_existing_url(cls, url: str) -> PostgresDatabase:
        db = await cls._connect(url)
        try:
            await check_existing_schema(db)
        except BaseException:
            await db.close()
            raise
        return db

    async def listen_for_changes(self) -> None:
        """Hear other processes' cache invalidations (``bot.storage.caches``) until ``close``.

        Callback-driven, not a task that waits forever: asyncpg calls back on a NOTIFY and when the
        connection is lost. Only a lost connection starts a task, which reconnects with backoff and
        ends. (A task parked on an event for the process's lifetime is also a wait that the test
        simulator cannot account for.)"""
        if self._listening is not None or self._closing:
            return
        try:
            await self._connect_listener()
        except Exception as error:
            log.warning("the cache invalidation listener could not connect (%s); retrying", type(error).__name__)
            self._reconnect_later()

    async def _connect_listener(self) -> None:
        conn = await asyncpg.connect(self._url)
        conn.add_termination_listener(self._listener_lost)
        await conn.add_listener(NOTIFY_CHANNEL, lambda _c, _pid, _channel, payload: self.caches.notified(payload))
        self._listening = conn
        # Whatever changed while nobody listened was not heard: start from empty caches.
        self.caches.flush()

    def _listener_lost(self, _conn: object) -> None:
        self._listening = None
        self.caches.flush()
        if not self._closing:
            log.warning("the cache invalidation listener lost its connection; reconnecting")
            self._reconnect_later()

    def _reconnect_later(self) -> None:
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.create_task(self._reconnect(), name="postgres-cache-listener")

    async def _reconnect(self) -> None:
        delay = 0.5
        while not self._closing:
            await asyncio.sleep(delay)
            self.caches.flush()  # entries cached while nobody listened may be stale
            try:
                await self._connect_listener()
                return
            except Exception as error:
                log.warning("the cache invalidation listener could not connect (%s); retrying", type(error).__name__)
                delay = min(delay * 2, 30.0)

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            await asyncio.gather(self._reconnecting, return_exceptions=True)
            self._reconnecting = None
        conn, self._listening = self._listening, None
        if conn is not None and not conn.is_closed():
            await conn.close()
        await self._pool.close()

    def raw_connection(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A pooled asyncpg connection for operator tools that need COPY (``bot.storage.copy``)."""
        return cast(AbstractAsyncContextManager[asyncpg.Connection], self._pool.acquire())

    async def schema_version(self) -> int:
        async with self._pool.acquire() as conn:
            return await self._version(conn)

    @staticmethod
    async def _version(conn: asyncpg.Connection) -> int:
        exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not exists:
            return 0
        return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    async def migrate(self, migrations: list[Migration]) -> int:
        """Apply every newer migration, each in its own transaction with its version row, while
        holding the schema's migration lock (a second process waits, then finds nothing to do)."""
        latest = migrations[-1].version if migrations else 0
        async with self._pool.acquire() as conn:
            await conn.execute(_MIGRATION_LOCK)
            try:
                await conn.execute(_VERSION_TABLE)
                current = await self._version(conn)
                check_version(current, latest)
                for migration in migrations:
                    if migration.version <= current:
                        continue
                    async with conn.transaction():
                        await conn.execute(migration.sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            migration.version,
                            migration.name,
                        )
                    log.info("database migrated to version %d (%s)", migration.version, migration.name)
                    current = migration.version
            finally:
                await conn.execute(_MIGRATION_UNLOCK)
        return current

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        tx: PostgresTx | None = None
        async with self._pool.acquire() as conn, conn.transaction():
            tx = PostgresTx(conn)
            yield tx
        # Committed: drop what it changed here at once (other processes hear the NOTIFY).
        self.caches.committed(tx.changes)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Tx]:
        """REPEATABLE READ, read only: every read sees the snapshot of the first one."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            yield PostgresTx(conn)

    def snapshot(self) -> AbstractAsyncContextManager[Tx]:
        # reading() already takes its own pooled connection: writers never wait for it.
        return self.reading()

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._pool.acquire() as conn:
            return await PostgresTx(conn).fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._pool.acquire() as conn:
            return await PostgresTx(conn).fetchall(sql, params)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        async with self._pool.acquire() as conn:
            return await PostgresTx(conn).fetchval(sql, params)
