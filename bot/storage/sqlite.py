"""The SQLite backend: one aiosqlite connection, WAL mode, numbered migrations, serialized transactions.

One aiosqlite connection serves the whole bot. Because coroutines share it, every
statement goes through one asyncio lock: otherwise a read from one coroutine could run
inside another's open transaction.

``run(work)`` is the hot path (accept, cancel, the runner's transitions): units that arrive
while a batch commits share the next COMMIT (group commit), each inside its own SAVEPOINT so a
refusal rolls back only its own work, and the whole batch costs one hop to aiosqlite's thread
(its COMMIT). A caller hears its result only after that COMMIT returned (``synchronous = FULL``:
it is durable). One failed COMMIT fails every unit of its batch with ``CommitFailed``: none of
them was written. A unit may await only its ``Tx``: awaiting anything else raises
``UnitAwaitedOther`` (its work is rolled back) instead of stalling the writer.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from bot.storage.caches import Caches
from bot.storage.db import (
    CommitFailed,
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
from bot.storage.dialect import SQLITE
from bot.storage.single_process import ProcessLock

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Units of work per group commit at most: one COMMIT (one fsync) for all of them.
MAX_BATCH = 256
#: Units run between two turns of the event loop: about 2 ms of work on the bench machine.
CHUNK = 32
#: How long a statement waits for another connection's write lock before SQLITE_BUSY.
BUSY_TIMEOUT_MS = 5000


async def _run(conn: aiosqlite.Connection, sql: str) -> None:
    """Run a statement and close its cursor at once: an open cursor keeps its statement
    "in progress" until garbage collection, and COMMIT refuses to run while one is."""
    cursor = await conn.execute(sql)
    await cursor.close()


class SqliteTx(Tx):
    def __init__(self, conn: aiosqlite.Connection, stats: StorageStats | None = None) -> None:
        self._conn = conn
        self._stats = stats or StorageStats()

    async def _cursor(self, sql: str, params: Params) -> aiosqlite.Cursor:
        self._stats.statements += 1
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


class _UnitTx(Tx):
    """The statements of one unit of work on the connection's own thread: each runs at once.

    Its methods are coroutines only to share ``Tx``'s interface; none of them suspends, so the
    unit's coroutine runs to its end in one ``send`` (see ``_drive``).
    """

    def __init__(self, conn: sqlite3.Connection, stats: StorageStats) -> None:
        self._conn = conn
        self._stats = stats
        self._changes: list[tuple[str, int]] = []  # read after every unit: no AttributeError first

    def _cursor(self, sql: str, params: Params) -> sqlite3.Cursor:
        self._stats.statements += 1
        try:
            return self._conn.execute(sql, params)
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from error

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = self._cursor(sql, params)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    async def insert(self, sql: str, params: Params = ()) -> int:
        cursor = self._cursor(sql, params)
        try:
            rowid = cursor.lastrowid
        finally:
            cursor.close()
        if rowid is None:
            raise RuntimeError("INSERT produced no row id")
        return rowid

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        cursor = self._cursor(sql, params)
        try:
            return cast(Row | None, cursor.fetchone())
        finally:
            cursor.close()

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = self._cursor(sql, params)
        try:
            return cast(list[Row], cursor.fetchall())
        finally:
            cursor.close()

    async def lock(self, *keys: tuple[object, ...]) -> None:
        # The batch's BEGIN IMMEDIATE already made this the only writer.
        return None


def _drive(unit: Coroutine[Any, Any, T]) -> T:
    """Run a unit's coroutine to its end without an event loop; refuse one that suspends."""
    try:
        awaited = unit.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    unit.close()
    raise UnitAwaitedOther(
        f"a unit of work awaited {awaited!r}: it may await only its transaction's statements "
        "(do other waiting before or after db.run)"
    )


def _begin_at_once(conn: sqlite3.Connection) -> bool:
    """BEGIN IMMEDIATE on the loop's thread if the write lock is free now; False if it is taken.

    With the busy timeout switched off for this one statement, a taken lock answers SQLITE_BUSY
    at once instead of blocking the loop; the caller then waits for it on aiosqlite's thread.
    """
    conn.execute("PRAGMA busy_timeout = 0").close()
    try:
        conn.execute("BEGIN IMMEDIATE").close()
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
            raise
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}").close()
    return True


def _run_unit(
    conn: sqlite3.Connection, work: Callable[[Tx], Awaitable[Any]], stats: StorageStats
) -> tuple[bool, Any, list[tuple[str, int]]]:
    """One unit inside the batch's transaction: its work, or none of it if it raised."""
    tx = _UnitTx(conn, stats)
    conn.execute("SAVEPOINT unit").close()
    try:
        value = _drive(cast(Coroutine[Any, Any, Any], work(tx)))
    except Exception as error:  # a refusal, or a bug: only this unit's work is undone
        conn.execute("ROLLBACK TO unit").close()
        outcome: tuple[bool, Any, list[tuple[str, int]]] = (False, error, [])
    else:
        outcome = (True, value, tx.changes)
    conn.execute("RELEASE unit").close()
    stats.statements += 2
    return outcome


async def _to_its_end(hop: Awaitable[Any]) -> bool:
    """Await a call on aiosqlite's thread to its end, even if the writer is cancelled meanwhile.

    The thread cannot be called back: a COMMIT abandoned halfway would leave its outcome unknown
    while the loop's side rolled back and told the callers their (perhaps committed) work failed,
    and an abandoned BEGIN would leave the connection inside a transaction nobody owns. Returns
    whether a cancellation arrived meanwhile; the call's own error is raised.
    """
    call = asyncio.ensure_future(hop)
    cancelled = False
    while True:
        try:
            await asyncio.shield(call)
            return cancelled
        except asyncio.CancelledError:
            if call.done():
                if call.cancelled():  # the call itself, not the writer, was cancelled
                    raise
                call.result()
                return True
            cancelled = True


_Pending = tuple[Callable[[Tx], Awaitable[Any]], "asyncio.Future[Any]"]


class SqliteDatabase(Database):
    backend = "sqlite"
    dialect = SQLITE

    def __init__(self, conn: aiosqlite.Connection, path: str, process_lock: ProcessLock | None = None) -> None:
        self._conn = conn
        self._raw: sqlite3.Connection = conn._conn
        self._lock = asyncio.Lock()
        self.stats = StorageStats()
        self.caches = Caches(self)
        self._count_round_trips(conn)
        self._pending: list[_Pending] = []
        self._cancelled = False  # the writer was cancelled during a hop it had to see to its end
        self._writer: asyncio.Task[None] | None = None
        self._process_lock = process_lock
        self.path = path
        # Holding the file's process lock: any job lease in the file is a dead process's.
        self.sole_process = process_lock is not None
        self.target = path
        self._read_only_uri = "" if path == ":memory:" else f"{Path(path).resolve().as_uri()}?mode=ro"

    def _count_round_trips(self, conn: aiosqlite.Connection) -> None:
        # Every call aiosqlite queues on its thread goes through _execute: counting there counts
        # hops, not guesses (bench.ack reports them per command).
        queue_call = conn._execute
        stats = self.stats

        async def counted(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            stats.round_trips += 1
            return await queue_call(fn, *args, **kwargs)

        conn._execute = counted  # type: ignore[method-assign]

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
            # check_same_thread=False: group commits run their units on the loop's thread (see
            # _write_batch); every use of the connection is serialized by self._lock.
            conn = await aiosqlite.connect(path_str, isolation_level=None, check_same_thread=False)
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
            await _run(conn, f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
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
        conn = await aiosqlite.connect(path_str, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        try:
            await _run(conn, f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db = cls(conn, path_str)
            await check_existing_schema(db)
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        if self._writer is not None:
            # Units already handed over are written (or fail) before the connection closes.
            await asyncio.gather(self._writer, return_exceptions=True)
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
            tx = SqliteTx(self._conn, self.stats)
            try:
                yield tx
            except BaseException:
                await _run(self._conn, "ROLLBACK")
                raise
            else:
                await _run(self._conn, "COMMIT")
                self.stats.commits += 1
                # Still under the lock: no unit can load the old rows again in between.
                self.caches.committed(tx.changes)
            finally:
                self.stats.statements += 2

    async def run(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """One unit of work, in one hop, committed with whatever else arrived meanwhile (see above)."""
        self.stats.units += 1
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches(), name="sqlite-group-commit")
        # A caller cancelled meanwhile cancels only this future: once handed over, the unit is
        # written or refused all the same (the writer skips a future that is already done).
        return await future

    async def read(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Reads as one unit: they ride the next group commit like any unit (in a burst, two hundred
        channel checks share one hop instead of queueing for two hundred), and see every commit before."""
        return await self.run(work)

    async def _write_batches(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                async with self._lock:
                    outcomes = await self._write_batch(batch)
                    for _, _, changes in outcomes:
                        self.caches.committed(changes)
            except BaseException as error:
                # Nothing of this batch was written: every unit in it fails, each with its own error.
                for _, future in batch:
                    if not future.done():
                        failed = CommitFailed(f"the database did not commit this unit's batch: {error}")
                        failed.__cause__ = error
                        future.set_exception(failed)
                if not isinstance(error, Exception):
                    raise
                continue
            for (_, future), (ok, value, _) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
            if self._cancelled:
                # Cancelled while its COMMIT ran: the callers heard the truth first, now stop.
                self._cancelled = False
                raise asyncio.CancelledError

    async def _write_batch(self, batch: list[_Pending]) -> list[tuple[bool, Any, list[tuple[str, int]]]]:
        """BEGIN IMMEDIATE, each unit in its own SAVEPOINT, one COMMIT; ``batch`` may grow meanwhile.

        The units run here, on the event loop's thread, not on aiosqlite's: their statements are
        index lookups and inserts on cached pages (microseconds each), and running them on the
        thread made every statement hand the GIL back and forth with the loop, which cost more
        than the statements. What can wait stays off the loop: the COMMIT (its fsync) runs on
        aiosqlite's thread, and so does BEGIN IMMEDIATE whenever another connection holds the
        write lock (a backup, a maintenance command), where SQLite's busy timeout waits. Between
        chunks of ``CHUNK`` units the loop runs its other tasks, and units handed over meanwhile
        join this batch, up to ``MAX_BATCH``.
        """
        conn = self._raw
        stats = self.stats
        outcomes: list[tuple[bool, Any, list[tuple[str, int]]]] = []
        if not _begin_at_once(conn):
            self._cancelled |= await _to_its_end(self._conn._execute(conn.execute, "BEGIN IMMEDIATE"))
        stats.statements += 3  # BEGIN IMMEDIATE and the two busy_timeout switches around it
        try:
            while len(outcomes) < len(batch):
                if outcomes:
                    await asyncio.sleep(0)
                    room = MAX_BATCH - len(batch)
                    if room > 0 and self._pending:
                        batch += self._pending[:room]
                        del self._pending[:room]
                for work, _ in batch[len(outcomes) : len(outcomes) + CHUNK]:
                    outcomes.append(_run_unit(conn, work, stats))
            self._cancelled |= await _to_its_end(self._conn._execute(conn.execute, "COMMIT"))
            stats.statements += 1
            stats.commits += 1
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK").close()
            raise
        return outcomes

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Tx]:
        """A deferred transaction: WAL gives its reads one snapshot from the first read on."""
        async with self._lock:
            await _run(self._conn, "BEGIN")
            try:
                yield SqliteTx(self._conn, self.stats)
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
            return await SqliteTx(self._conn, self.stats).fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._lock:
            return await SqliteTx(self._conn, self.stats).fetchall(sql, params)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        async with self._lock:
            return await SqliteTx(self._conn, self.stats).fetchval(sql, params)
