"""``python -m bot migrate-to URL``: a SQLite database moved into an empty PostgreSQL one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services.credits import MemberContext
from bot.storage.db import Database
from tests.backends import Backend
from tests.cli.conftest import Cli, write_config
from tests.cli.test_export import fill
from tests.support import ManualClock, build_core, request


async def _rows(db: Database, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in await db.fetchall(sql)]


_LEDGER = (
    "SELECT id, guild_id, member_id, kind, amount, job_id, actor_id, reason, period, created_at FROM ledger ORDER BY id"
)
_JOBS = "SELECT id, guild_id, member_id, state, price, idempotency_key, callback_token FROM jobs ORDER BY id"


@pytest.mark.postgres_only
async def test_every_row_is_copied_with_its_id_and_the_ledger_sums_match(
    tmp_path: Path, cli: Cli, backend: Backend
) -> None:
    sqlite_file = tmp_path / "wanbot.sqlite3"
    await fill(sqlite_file)  # two servers, two members: refills, a hold and its release, grants
    config = str(write_config(tmp_path))
    url = backend.target(tmp_path / "pg")

    result = await cli("migrate-to", url, "--config", config)

    assert result.code == 0, result.err
    assert "ledger sums match for 2 members in 2 servers" in result.out
    source, target = await Database.open_existing(sqlite_file), await Database.open_existing(url)
    try:
        assert await _rows(target, _LEDGER) == await _rows(source, _LEDGER)
        assert await _rows(target, _JOBS) == await _rows(source, _JOBS)
        # The bot goes on from there: a new job and its hold get ids after the copied ones.
        core = build_core(target, ManualClock())
        assert (await core.credits.balance(1000, MemberContext(7))).available == 525
        accepted = await core.jobs.accept(request(7))
        assert accepted.job.id == 2 and accepted.balance.available == 445
        [last_entry] = await target.fetchall("SELECT MAX(id) FROM ledger")
        assert last_entry[0] == 7
    finally:
        await source.close()
        await target.close()


@pytest.mark.postgres_only
async def test_a_database_that_already_has_rows_is_refused_and_left_alone(
    tmp_path: Path, cli: Cli, backend: Backend
) -> None:
    await fill(tmp_path / "wanbot.sqlite3")
    config = str(write_config(tmp_path))
    url = backend.target(tmp_path / "pg")
    assert (await cli("migrate-to", url, "--config", config)).code == 0

    again = await cli("migrate-to", url, "--config", config)

    assert again.code == 1
    assert "the PostgreSQL database is not empty" in again.err and "nothing is merged or overwritten" in again.err
    target = await Database.open_existing(url)
    try:
        assert await target.fetchval("SELECT COUNT(*) FROM ledger") == 6
    finally:
        await target.close()


async def test_the_target_must_be_postgresql(tmp_path: Path, cli: Cli) -> None:
    result = await cli("migrate-to", str(tmp_path / "other.sqlite3"), "--config", str(write_config(tmp_path)))
    assert result.code == 2
    assert "the target must be a PostgreSQL URL" in result.err
