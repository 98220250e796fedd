"""Storage behind one interface, with two backends: SQLite (the embedded default) and PostgreSQL.

``Database.open(target)`` picks the backend from the target: a ``postgresql://`` URL opens an
asyncpg pool (``bot.storage.postgres``), anything else is a SQLite file (``bot.storage.sqlite``).
Repositories see only ``Database``, ``Tx``, ``Row`` and ``IntegrityError`` from here, and write one
SQL text for both (``bot.storage.dialect`` holds the few expressions that differ).

A transaction is one unit of work: ``db.run(work)`` hands ``work(tx)`` to the backend in one call.
On SQLite the whole unit runs on the connection's thread in one hop and shares a group commit
(``bot.storage.sqlite``); on PostgreSQL it runs on one pooled connection in one transaction.
A unit awaits only its ``Tx``; anything else it awaited would hold up every other writer.
"""

from __future__ import annotations

import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from bot.storage.caches import Caches
from bot.storage.dialect import Dialect

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

Params = Sequence[Any] | dict[str, Any]
Backend = Literal["sqlite", "postgresql"]
T = TypeVar("T")


class Row(Protocol):
    """One result row: by column name or by position (``sqlite3.Row`` and ``asyncpg.Record`` both are)."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> Any: ...


class IntegrityError(Exception):
    """A constraint refused the statement (a unique index, a check, an append-only trigger)."""


class CommitFailed(RuntimeError):
    """The COMMIT of a group of units failed: this unit's work was not written (nor any of its group)."""


class UnitAwaitedOther(RuntimeError):
    """A unit of work awaited something other than its transaction (a bug: it would stall the writer)."""


class SchemaError(RuntimeError):
    """The database's schema cannot be used by this bot (newer than it, or not a wanbot database)."""


def is_postgres_url(target: str | Path) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """Split on statement boundaries; ``complete_statement`` keeps SQLite trigger bodies whole."""
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


def bundled_migrations(backend: Backend = "sqlite") -> list[Migration]:
    """The migrations shipped with the bot; the same numbers exist for both backends."""
    folder = resources.files("bot.storage") / "migrations"
    if backend == "postgresql":
        folder = folder / "postgres"
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


def storable_text(text: str) -> str:
    """Text from outside the bot's validation (a provider's answer) made storable on both backends.

    PostgreSQL text cannot hold NUL, and a job whose error message cannot be written would never
    end; U+FFFD takes its place, on SQLite too, so both backends keep the same text. What members
    and moderators type is refused instead (``bot.domain.validation.refuse_nul``).
    """
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def check_version(current: int, latest: int) -> None:
    if current > latest:
        raise SchemaError(
            f"the database is at schema version {current}, newer than this bot knows ({latest}); "
            "upgrade the bot or restore a matching backup"
        )


async def check_existing_schema(db: Database) -> None:
    """For ``open_existing``: a wanbot schema this bot can read, on either backend."""
    version = await db.schema_version()
    if version < 1:
        raise SchemaError(f"{db.target} is not a wanbot database (schema version 0)")
    check_version(version, bundled_migrations(db.backend)[-1].version)


class Tx(ABC):
    """The statements of one open transaction. Only valid inside ``Database.transaction()``."""

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows changed."""

    @abstractmethod
    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT into a table with an ``id`` column; return the new row's id."""

    @abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    @property
    def changes(self) -> list[tuple[str, int]]:
        """What this transaction said it changed (``changed``): dropped from the caches after commit."""
        try:
            return self._changes
        except AttributeError:
            self._changes: list[tuple[str, int]] = []
            return self._changes

    async def changed(self, cache: str, guild_id: int) -> None:
        """This transaction changes what ``cache`` holds for a server (see ``bot.storage.caches``)."""
        self.changes.append((cache, guild_id))

    @abstractmethod
    async def lock(self, *keys: tuple[object, ...]) -> None:
        """Hold these locks until the transaction ends, taken in the order given.

        Money checks that read then write (balance, budget) lock what they read first, always in
        the order buyer → member → server budget → global budget (``buyer_lock``, ``member_lock``,
        ``server_budget_lock``, ``GLOBAL_BUDGET_LOCK``), so two processes never deadlock and never both pass a check the
        other's hold would fail. We chose locks over SERIALIZABLE with retries: measured in
        ../shared/SCALE.md, it is safe at about three times the throughput and needs no retry
        loop around the work. On SQLite this costs nothing: BEGIN IMMEDIATE already lets one
        writer in at a time.
        """


def buyer_lock(user_id: int) -> tuple[object, ...]:
    """A member's store purchases, in every server: a purchase's credit, the wait for a server
    and a revoke are decided one at a time, so a revoke never misses a credit being paid."""
    return ("buyer", user_id)


def member_lock(guild_id: int, member_id: int) -> tuple[object, ...]:
    return ("member", guild_id, member_id)


def server_budget_lock(guild_id: int) -> tuple[object, ...]:
    return ("server-budget", guild_id)


GLOBAL_BUDGET_LOCK: tuple[object, ...] = ("global-budget",)


@dataclass(slots=True)
class StorageStats:
    """Counted by the backend, read by bench/: what the hot path costs in database work.

    ``round_trips`` are hops from the event loop to the database and back (a call queued on
    aiosqlite's thread, one asyncpg call to PostgreSQL, which may carry several statements);
    ``statements`` are SQL statements run, BEGIN, SAVEPOINT, locks and COMMIT included;
    ``commits`` are durable COMMITs (a group commit is one). Both backends count them.
    """

    statements: int = 0
    commits: int = 0
    round_trips: int = 0
    units: int = 0  # units of work handed to ``Database.run``

    def copy(self) -> StorageStats:
        return StorageStats(self.statements, self.commits, self.round_trips, self.units)


class Database(ABC):
    """One bot's storage. Open with ``Database.open``; close with ``close``."""

    backend: Backend
    dialect: Dialect
    #: What an operator recognises: the SQLite file's path, or the URL without its password.
    target: str
    #: No other bot process can use this database (SQLite under its process lock), so a job lease
    #: another owner left behind needs no waiting out.
    sole_process: bool = False
    stats: StorageStats
    caches: Caches

    @staticmethod
    async def open(
        target: str | Path, *, migrations: Iterable[Migration] | None = None, single_process: bool = False
    ) -> Database:
        """Open (creating a SQLite file if needed) and migrate the database at ``target``.

        ``single_process`` (the bot itself, not operator tools): on SQLite, refuse to open a file
        another bot process has open. PostgreSQL takes any number of processes.
        """
        if is_postgres_url(target):
            from bot.storage.postgres import PostgresDatabase

            return await PostgresDatabase.open_url(str(target), migrations=migrations)
        from bot.storage.sqlite import SqliteDatabase

        return await SqliteDatabase.open(target, migrations=migrations, single_process=single_process)

    @staticmethod
    async def open_existing(target: str | Path) -> Database:
        """Open a database that must already exist, without migrating it.

        For operator tools that only read (``export-ledger``): they must not create an empty
        database at a mistyped path, nor upgrade one a running older bot is using.
        """
        if is_postgres_url(target):
            from bot.storage.postgres import PostgresDatabase

            return await PostgresDatabase.open_existing_url(str(target))
        from bot.storage.sqlite import SqliteDatabase

        return await SqliteDatabase.open_existing(target)

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def schema_version(self) -> int: ...

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """One write transaction: everything inside commits together or not at all."""

    @abstractmethod
    def reading(self) -> AbstractAsyncContextManager[Tx]:
        """Several reads that see one consistent snapshot (exports read the ledger through this)."""

    @abstractmethod
    def snapshot(self) -> AbstractAsyncContextManager[Tx]:
        """A long read (an export) that sees one consistent snapshot without holding up writers:
        a second read-only connection on SQLite, REPEATABLE READ READ ONLY on PostgreSQL."""

    async def run(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Hand one unit of work to storage: ``work(tx)`` runs inside one transaction."""
        self.stats.units += 1
        async with self.transaction() as tx:
            return await work(tx)

    async def read(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Several reads as one unit, one consistent snapshot, nothing written (one hop on SQLite)."""
        self.stats.units += 1
        async with self.reading() as tx:
            return await work(tx)

    @abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]
