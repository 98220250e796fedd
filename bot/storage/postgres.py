"""The PostgreSQL backend: an asyncpg pool, numbered migrations under an advisory lock.

Several bot processes share one database, so unlike SQLite nothing here serializes writers:
each transaction runs on its own pooled connection under READ COMMITTED, and the money paths
take transaction-level advisory locks (``Tx.lock``) before they read what they check.

A unit of work (``run``) costs what its round trips cost: ``BEGIN`` and its locks travel in one
call, the cache NOTIFYs with ``COMMIT``, and the pool does not reset a connection between units.
The backend counts statements, commits and round trips in ``Database.stats`` where it makes the
calls (bench.holds_pg reports them per hold). A unit that awaits anything but its own
transaction raises ``UnitAwaitedOther`` and rolls back (``_OnlyItsTx``), as on SQLite.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import lru_cache
from typing import Any, Generic, TypeVar, cast
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
    UnitAwaitedOther,
    bundled_migrations,
    check_existing_schema,
    check_version,
)
from bot.storage.dialect import POSTGRESQL, numbered_placeholders

log = logging.getLogger(__name__)

T = TypeVar("T")

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


@lru_cache(maxsize=4096)
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
    """The statements of one transaction on one pooled connection, each call one round trip.

    Round trips are what a unit costs here (each is a send and a wake-up on both sides, about as
    much CPU as the statement itself on the bench machine), so the few statements whose results
    nobody reads ride along with the next call as one simple query: ``BEGIN`` and the advisory
    locks go out with the first statement that needs the server (``BEGIN; SELECT
    pg_advisory_xact_lock(…)`` when the unit starts with a lock), and the NOTIFYs of ``changed``
    go out with ``COMMIT``. A lock this transaction already holds is not taken again.
    """

    def __init__(self, conn: asyncpg.Connection, stats: StorageStats, begin: str | None = "BEGIN") -> None:
        self._conn = conn
        self._stats = stats
        #: Not sent yet; None once sent (or for a single statement outside any transaction).
        self._begin = begin
        self._locks: list[int] = []  # asked for, sent with the next call
        self._held: set[int] = set()
        #: True while this transaction awaits the server: the one wait a unit may make (``_OnlyItsTx``).
        self.calling = False

    async def _server(self, call: Callable[..., Awaitable[Any]], sql: str, params: Params, statements: int = 1) -> Any:
        """One call to the server: one round trip, counted here."""
        if self._begin is not None or self._locks:
            await self._prelude()
        self._stats.round_trips += 1
        self._stats.statements += statements
        self.calling = True
        try:
            return await call(sql, *_positional(params))
        except asyncpg.IntegrityConstraintViolationError as error:
            raise IntegrityError(str(error)) from error
        finally:
            self.calling = False

    def _pending(self) -> list[str]:
        """BEGIN and the locks not sent yet, as statements of one simple query (keys are ints)."""
        parts = [] if self._begin is None else [self._begin]
        parts.extend(f"SELECT pg_advisory_xact_lock({key})" for key in self._locks)
        self._begin = None
        self._locks = []
        return parts

    async def _prelude(self) -> None:
        parts = self._pending()
        await self._server(self._conn.execute, "; ".join(parts), (), len(parts))

    async def execute(self, sql: str, params: Params = ()) -> int:
        return _changed(await self._server(self._conn.execute, numbered_placeholders(sql), params))

    async def insert(self, sql: str, params: Params = ()) -> int:
        new_id = await self._server(self._conn.fetchval, numbered_placeholders(sql) + " RETURNING id", params)
        if new_id is None:
            raise RuntimeError("INSERT produced no row id")
        return int(new_id)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return cast(Row | None, await self._server(self._conn.fetchrow, numbered_placeholders(sql), params))

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return cast(list[Row], await self._server(self._conn.fetch, numbered_placeholders(sql), params))

    async def lock(self, *keys: tuple[object, ...]) -> None:
        # Taken by the next call, before its statement runs: nothing is read in between.
        for key in keys:
            number = lock_key(key)
            if number not in self._held:
                self._held.add(number)
                self._locks.append(number)

    async def commit(self) -> None:
        """COMMIT, with the NOTIFYs of what this transaction changed (NOTIFY is transactional: every
        process hears it when, and only if, this commits). Nothing sent yet: nothing to commit."""
        if self._begin is not None and not self.changes:
            return
        parts = self._pending()
        parts.extend(
            f"SELECT pg_notify('{NOTIFY_CHANNEL}', {_literal(f'{name}:{guild}')})" for name, guild in self.changes
        )
        parts.append("COMMIT")
        await self._server(self._conn.execute, "; ".join(parts), (), len(parts))
        self._stats.commits += 1

    async def rollback(self) -> None:
        if self._begin is not None:
            return  # nothing reached the server: no transaction is open there
        self._locks = []
        await self._server(self._conn.execute, "ROLLBACK", ())


def _literal(text: str) -> str:
    """A SQL string literal (standard_conforming_strings is on by default since PostgreSQL 9.1)."""
    return "'" + text.replace("'", "''") + "'"


class _OnlyItsTx(Generic[T]):
    """Awaits a unit of work, refusing any wait that is not one of its transaction's own calls.

    A unit holds a pooled connection and its locks until it ends, so a unit that awaited anything
    else (a sleep, an HTTP call, another connection's query) would hold them for as long as that
    takes. Instead of trusting asyncpg's internals (which future a query waits on is not public),
    this drives the unit's coroutine one step at a time, the way ``await`` would, and checks at each
    suspension that the transaction is inside one of its calls to the server (``PostgresTx.calling``,
    set only around the asyncpg call). Anything else raises ``UnitAwaitedOther`` into nothing: the
    unit is closed and the transaction rolls back. The cost is one flag test per wait for the
    server: nothing beside a round trip.
    """

    __slots__ = ("_tx", "_unit")

    def __init__(self, unit: Awaitable[T], tx: PostgresTx) -> None:
        self._unit = unit
        self._tx = tx

    def __await__(self) -> Generator[Any, Any, T]:
        steps = self._unit.__await__()
        tx = self._tx
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                awaited = steps.send(sent) if thrown is None else steps.throw(thrown)
            except StopIteration as done:
                return cast(T, done.value)
            if not tx.calling:
                steps.close()
                raise UnitAwaitedOther(
                    f"a unit of work awaited {awaited!r}: it may await only its transaction's statements "
                    "(do other waiting before or after db.run)"
                )
            try:
                sent, thrown = (yield awaited), None
            except GeneratorExit:
                steps.close()
                raise
            except BaseException as error:  # a cancellation, passed on to the unit as await would
                sent, thrown = None, error


class PostgresDatabase(Database):
    backend = "postgresql"
    dialect = POSTGRESQL

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self.stats = StorageStats()  # counted by PostgresTx, where the calls are made
        self.caches = Caches(self)
        self._pool = pool
        self._url = url
        self.target = redacted(url)
        self._listening: asyncpg.Connection | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    async def _connect(cls, url: str) -> PostgresDatabase:
        # Every repository statement is a fixed text, prepared once per connection and kept:
        # the bot has a few hundred of them, more than asyncpg's default cache of 100, and a
        # statement pushed out is prepared again (one more round trip) the next time it runs.
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=10, command_timeout=60, statement_cache_size=1024, reset=_keep_session
        )
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

    @asynccontextmanager
    async def raw_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled asyncpg connection for operator tools that need COPY (``bot.storage.copy``).

        Reset the full way before it goes back (``_keep_session`` skips that for units)."""
        async with self._pool.acquire() as conn:
            try:
                yield conn
            finally:
                if not conn.is_closed():
                    await conn.reset()

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
        async with self._pool.acquire() as conn:
            tx = PostgresTx(conn, self.stats)
            try:
                yield tx
            except BaseException:
                await tx.rollback()
                raise
            await tx.commit()
        # Committed: drop what it changed here at once (other processes hear the NOTIFY).
        self.caches.committed(tx.changes)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Tx]:
        """REPEATABLE READ, read only: every read sees the snapshot of the first one."""
        async with self._pool.acquire() as conn:
            tx = PostgresTx(conn, self.stats, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield tx
            finally:
                await tx.rollback()  # nothing was written: ending it either way is the same

    def snapshot(self) -> AbstractAsyncContextManager[Tx]:
        # reading() already takes its own pooled connection: writers never wait for it.
        return self.reading()

    async def run(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """One unit of work in one transaction on one pooled connection; it may await only its tx."""
        self.stats.units += 1
        async with self.transaction() as tx:
            return await _OnlyItsTx(work(tx), cast(PostgresTx, tx))

    async def read(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        self.stats.units += 1
        async with self.reading() as tx:
            return await _OnlyItsTx(work(tx), cast(PostgresTx, tx))

    # One statement outside any transaction (it commits on its own): no BEGIN, no COMMIT.
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._pool.acquire() as conn:
            return await PostgresTx(conn, self.stats, begin=None).fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._pool.acquire() as conn:
            return await PostgresTx(conn, self.stats, begin=None).fetchall(sql, params)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        async with self._pool.acquire() as conn:
            return await PostgresTx(conn, self.stats, begin=None).fetchval(sql, params)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset between units: nothing, instead of asyncpg's default reset query.

    That query (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) was one more round
    trip after every unit, for state no unit leaves: its advisory locks are transaction-level and
    end with the transaction, no unit LISTENs (the listener has a connection of its own, outside
    the pool), SETs or opens a cursor. asyncpg still rolls back an open transaction before calling
    this. ``raw_connection`` (operator tools) and ``migrate`` (a session lock) clean up themselves.
    """
