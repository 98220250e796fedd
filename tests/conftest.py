from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.storage.db import Database
from tests import backends
from tests.support import Core, ManualClock, build_core

# Tests under these folders run on both backends; elsewhere (domain, providers, CLI) on SQLite.
_BOTH_BACKENDS = ("storage", "services", "bot")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: about SQLite itself (its file, its locks); not run on PostgreSQL")
    config.addinivalue_line("markers", "postgres_only: about PostgreSQL itself; run only on the PostgreSQL backend")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    folder = Path(str(metafunc.definition.path)).parent.name
    if folder not in _BOTH_BACKENDS and "backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("sqlite_only"):
        names: tuple[str, ...] = ("sqlite",)
    elif metafunc.definition.get_closest_marker("postgres_only"):
        names = ("postgresql",)
    else:
        names = backends.BACKENDS
    if "backend" not in metafunc.fixturenames:
        metafunc.fixturenames.append("backend")
    metafunc.parametrize("backend", names, ids=list(names), indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Iterator[backends.Backend]:
    """The database backend this test runs on (default: SQLite); see ``tests/backends.py``."""
    name = getattr(request, "param", "sqlite")
    if name == "postgresql" and backends.server_dsn() is None:
        if os.environ.get(backends.REQUIRED_ENV):
            pytest.fail(f"CI needs PostgreSQL: {backends.DSN_ENV} is not set (scripts/test.sh starts a server)")
        pytest.skip(f"no PostgreSQL server ({backends.DSN_ENV} unset)")
    chosen = backends.Backend(name)
    backends.current = chosen
    try:
        yield chosen
    finally:
        chosen.cleanup()
        backends.current = backends.Backend("sqlite")


@pytest.fixture(autouse=True)
def _backend_for_folder(request: pytest.FixtureRequest) -> None:
    # Pulls in ``backend`` for parametrized tests before any fixture opens a database (tests that
    # open one through a rig or a world never name the fixture themselves).
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and "backend" in callspec.params:
        request.getfixturevalue("backend")


@pytest_asyncio.fixture
async def db(tmp_path: Path, backend: backends.Backend) -> AsyncIterator[Database]:
    database = await Database.open(backend.target(tmp_path))
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def core(db: Database, clock: ManualClock) -> Core:
    return build_core(db, clock)
