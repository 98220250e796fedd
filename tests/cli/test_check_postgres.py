"""``python -m bot check`` and ``health`` with a PostgreSQL ``[database] url``: the connection and the
version are checked, problems are one sentence, and the password never shows."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.storage.db import Database, Migration, bundled_migrations
from tests.backends import Backend
from tests.cli.conftest import DISCORD_TOKEN, Cli

pytestmark = pytest.mark.postgres_only

PASSWORD = "pg-secret-0123456789"  # the test cluster trusts local users, so any password is accepted


def with_password(url: str) -> str:
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user or 'postgres'}:{PASSWORD}@{host}"))


def config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{url}"\n[discord]\ntoken = "{DISCORD_TOKEN}"\n', encoding="utf-8")
    return path


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_reachable_database_is_migrated_and_its_version_shown(
    tmp_path: Path, cli: Cli, backend: Backend
) -> None:
    url = with_password(backend.target(tmp_path))
    result = await cli("check", "--skip-discord", "--config", str(config(tmp_path, url)))
    latest = bundled_migrations("postgresql")[-1].version
    assert result.code == 0, result.out
    assert "ok       database: PostgreSQL postgresql://postgres:***@" in result.out
    assert f"opened, schema version {latest}" in result.out
    assert PASSWORD not in result.out + result.err
    assert not (tmp_path / "data").exists()  # no SQLite file made beside it
    db = await Database.open_existing(url)
    try:
        assert await db.schema_version() == latest
    finally:
        await db.close()


async def test_an_unreachable_server_is_a_problem_without_the_password(tmp_path: Path, cli: Cli) -> None:
    url = f"postgresql://wanbot:{PASSWORD}@127.0.0.1:{closed_port()}/wanbot"
    result = await cli("check", "--skip-discord", "--config", str(config(tmp_path, url)))
    assert result.code == 1
    assert "PROBLEM  database: cannot connect to postgresql://wanbot:***@127.0.0.1:" in result.out
    assert "Check [database] url and that the server is running." in result.out
    assert "1 problem found: database." in result.out
    assert PASSWORD not in result.out + result.err


async def test_a_schema_newer_than_the_bot_is_a_problem(tmp_path: Path, cli: Cli, backend: Backend) -> None:
    url = backend.target(tmp_path)
    shipped = bundled_migrations("postgresql")
    later = Migration(len(shipped) + 1, "9999_later.sql", "CREATE TABLE later (x INTEGER);")
    await (await Database.open(url, migrations=[*shipped, later])).close()
    result = await cli("check", "--skip-discord", "--config", str(config(tmp_path, url)))
    assert result.code == 1
    assert "PROBLEM  database: postgresql://postgres@/postgres?" in result.out
    assert f"is at schema version {len(shipped) + 1}, newer than this bot knows ({len(shipped)})" in result.out
    assert "1 problem found: database." in result.out


async def test_a_database_the_server_does_not_have_is_a_problem(tmp_path: Path, cli: Cli, backend: Backend) -> None:
    parts = urlsplit(with_password(backend.target(tmp_path)))
    url = urlunsplit(parts._replace(path="/no_such_database"))
    result = await cli("check", "--skip-discord", "--config", str(config(tmp_path, url)))
    assert result.code == 1
    assert "PROBLEM  database: postgresql://postgres:***@/no_such_database?" in result.out
    assert "refused the connection (InvalidCatalogNameError). Check [database] url" in result.out
    assert "1 problem found: database." in result.out
    assert PASSWORD not in result.out + result.err


async def test_health_without_the_web_server_reads_the_postgresql_database(
    tmp_path: Path, cli: Cli, backend: Backend
) -> None:
    url = with_password(backend.target(tmp_path))
    path = config(tmp_path, url)
    result = await cli("health", "--config", str(path))
    assert result.code == 1 and "unhealthy: database postgresql://postgres:***@" in result.err
    assert "not a wanbot database" in result.err  # health never migrates
    await (await Database.open(url)).close()
    result = await cli("health", "--config", str(path))
    assert result.code == 0 and "healthy: database postgresql://postgres:***@" in result.out
    assert PASSWORD not in result.out + result.err
