"""Which database backend a test runs on, and a fresh PostgreSQL schema per test folder.

Storage, service and end-to-end tests run twice, as ``[sqlite]`` and ``[postgresql]``
(``tests/conftest.py`` parametrizes them). ``scripts/test.sh`` starts a throwaway server and
exports ``WANBOT_TEST_PG_DSN``; without it the PostgreSQL half is skipped, unless
``WANBOT_TEST_PG_REQUIRED`` is set (CI), where it fails instead. Each test folder gets its own
schema (created here in about a millisecond, migrated when the bot opens it), so tests never see
each other's rows and a test that opens two folders gets two databases, as on SQLite.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

DSN_ENV = "WANBOT_TEST_PG_DSN"
REQUIRED_ENV = "WANBOT_TEST_PG_REQUIRED"
BACKENDS = ("sqlite", "postgresql")


def server_dsn() -> str | None:
    return os.environ.get(DSN_ENV) or None


def with_search_path(dsn: str, schema: str) -> str:
    """The DSN with ``search_path`` set: asyncpg passes unknown query keys on as server settings."""
    parts = urlsplit(dsn)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "search_path"]
    query.append(("search_path", schema))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _in_thread(coroutine_factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
    # Fixtures and helpers call this from inside a running event loop: run on a thread's own loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(coroutine_factory())).result()


async def _create(dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()


async def _drop(dsn: str, schemas: list[str]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for schema in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


class Backend:
    """The current test's backend; ``target(folder)`` is what ``Database.open`` takes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._schemas: dict[Path, str] = {}

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def target(self, folder: Path) -> str:
        if not self.postgres:
            return str(folder / "wanbot.sqlite3")
        dsn = server_dsn()
        assert dsn is not None, "the postgresql backend runs only with a server"
        folder = folder.resolve()
        if folder not in self._schemas:
            schema = f"t_{uuid.uuid4().hex[:16]}"
            _in_thread(lambda: _create(dsn, schema))
            self._schemas[folder] = schema
        return with_search_path(dsn, self._schemas[folder])

    def section(self, folder: Path) -> dict[str, str]:
        """The ``[database]`` config section for a bot whose files live in ``folder``."""
        return {"url": self.target(folder)} if self.postgres else {"path": self.target(folder)}

    def cleanup(self) -> None:
        dsn = server_dsn()
        if self._schemas and dsn is not None:
            schemas = list(self._schemas.values())
            _in_thread(lambda: _drop(dsn, schemas))
        self._schemas.clear()


current = Backend("sqlite")


def database_section(folder: Path) -> dict[str, str]:
    return current.section(folder)


def database_target(folder: Path) -> str:
    return current.target(folder)
