"""Per-server caches of what every command reads and few commands write (blocks, allowed channels,
prompt rules, server settings, role allowances).

- Loaded once per miss, even under a burst: concurrent misses for one server wait on one load.
- Dropped by the writing transaction: a repository that writes says ``await tx.changed(cache,
  guild_id)``, and the entry is dropped right after that transaction commits (never before: a
  reader could otherwise load the old rows again and keep them). A write that rolls back drops
  nothing.
- Across processes (PostgreSQL): ``tx.changed`` also sends ``NOTIFY`` in the same transaction,
  so every process hears it exactly when the change commits; a process whose listening connection
  dropped flushes everything when it reconnects, since it may have missed notifications.
- ``TTL_SECONDS`` is a backstop for what nothing announces (an operator editing the file by hand).

A load that an invalidation overtook is returned to its caller but not kept, so a cache never
keeps rows older than the last change it heard of.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")


# Protocols, not imports: the database owns its caches, so this module cannot import it back
# (a loader is typed with Any for the same reason: it takes the database's own Tx).
class Tx(Protocol):
    """What a cache needs of a transaction (``bot.storage.db.Tx``): what it said it changed."""

    @property
    def changes(self) -> list[tuple[str, int]]: ...


class Database(Protocol):
    """What a cache needs of the database (``bot.storage.db.Database``): a read in one unit of work."""

    async def read(self, work: Callable[[Any], Awaitable[T]]) -> T: ...


TTL_SECONDS = 30.0
#: The PostgreSQL channel the invalidations travel on; the payload is ``<cache>:<guild id>``.
NOTIFY_CHANNEL = "wanbot_caches"


@dataclass(slots=True)
class _Entry(Generic[T]):
    value: T
    expires: float


class GuildCache(Generic[T]):
    def __init__(
        self,
        name: str,
        db: Database,
        load_in: Callable[[Any, int], Awaitable[T]],
        ttl: float = TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._db = db
        self._load_in = load_in
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[int, _Entry[T]] = {}
        self._loading: dict[int, asyncio.Future[T]] = {}
        # Bumped by every invalidation: a load that started before the bump is not kept.
        self._generation = 0
        self.loads = 0

    def _fresh(self, guild_id: int) -> _Entry[T] | None:
        entry = self._entries.get(guild_id)
        if entry is not None and entry.expires > self._clock():
            return entry
        return None

    def _keep(self, guild_id: int, value: T, generation: int) -> None:
        if generation == self._generation:
            self._entries[guild_id] = _Entry(value, self._clock() + self._ttl)

    async def get(self, guild_id: int) -> T:
        """Outside a transaction: a hit, or one load shared by every concurrent miss."""
        entry = self._fresh(guild_id)
        if entry is not None:
            return entry.value
        pending = self._loading.get(guild_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._loading[guild_id] = future
        generation = self._generation
        try:
            self.loads += 1
            value = await self._db.read(lambda tx: self._load_in(tx, guild_id))
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: a miss nobody else waited on must not warn
            raise
        finally:
            if self._loading.get(guild_id) is future:
                del self._loading[guild_id]
        self._keep(guild_id, value, generation)
        future.set_result(value)
        return value

    async def get_in(self, tx: Tx, guild_id: int) -> T:
        """Inside a unit of work: a hit, or a load through that transaction (it awaits nothing else).

        A transaction that itself changed these rows reads them (its own writes), and keeps nothing.
        """
        if (self.name, guild_id) in tx.changes:
            return await self._load_in(tx, guild_id)
        entry = self._fresh(guild_id)
        if entry is not None:
            return entry.value
        generation = self._generation
        self.loads += 1
        value = await self._load_in(tx, guild_id)
        self._keep(guild_id, value, generation)
        return value

    def invalidate(self, guild_id: int | None = None) -> None:
        """Drop one server's entry (None: every server's)."""
        self._generation += 1
        if guild_id is None:
            self._entries.clear()
            self._loading.clear()
        else:
            self._entries.pop(guild_id, None)
            self._loading.pop(guild_id, None)


class Caches:
    """Every cache of one database, by name; what committed transactions and notifications drop."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._caches: dict[str, GuildCache[Any]] = {}

    def register(self, name: str, load_in: Callable[[Any, int], Awaitable[T]]) -> GuildCache[T]:
        """The cache called ``name`` (one per database, whichever repository asks first)."""
        cache = self._caches.get(name)
        if cache is None:
            cache = GuildCache(name, self._db, load_in)
            self._caches[name] = cache
        return cache

    def committed(self, changes: list[tuple[str, int]]) -> None:
        """A transaction that said it changed these committed."""
        for name, guild_id in changes:
            cache = self._caches.get(name)
            if cache is not None:
                cache.invalidate(guild_id)

    def notified(self, payload: str) -> None:
        """A NOTIFY from a process (this one included); anything unreadable flushes everything."""
        name, _, guild = payload.partition(":")
        try:
            guild_id = int(guild)
        except ValueError:
            self.flush()
            return
        self.committed([(name, guild_id)])

    def flush(self) -> None:
        for cache in self._caches.values():
            cache.invalidate()
