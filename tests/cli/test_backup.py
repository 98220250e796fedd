"""``python -m bot backup``: a copy taken while the database is being written restores to a
consistent ledger, one committed transaction at a time."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

import pytest

from bot.cli.backup import BackupError, backup_database
from bot.domain.models import JobState
from bot.services.credits import MemberContext
from bot.storage.db import Database
from tests.cli.conftest import Cli, write_config
from tests.support import ManualClock, build_core, request, spec

MEMBERS = range(1, 7)
OPEN = ("accepted", "submitted", "rendering", "succeeded", "delivering")


async def write_load(db: Database, stop: asyncio.Event, seed: int, progress: list[int]) -> int:
    """Jobs held, delivered (settled) or cancelled (released), and grants, each in its own transaction."""
    rng = random.Random(seed)
    core = build_core(db, ManualClock(), allowance=100_000)
    done = 0
    while not stop.is_set():
        member = rng.choice(MEMBERS)
        roll = rng.random()
        if roll < 0.15:
            await core.credits.grant(1000, MemberContext(member), rng.randint(1, 50), actor_id=99, reason="=load test")
        else:
            accepted = await core.jobs.accept(request(member, spec(duration=rng.choice((5, 10, 15)))))
            job = accepted.job
            if roll < 0.55:
                await core.jobs.cancel(1000, job.id, member)
            elif roll < 0.9:
                async with db.transaction() as tx:
                    assert await core.job_repo.transition(tx, job.id, [JobState.ACCEPTED], JobState.DELIVERED)
                    await core.credits.settle_in(tx, job, core.clock())
            # else: left open, its credits held
        done += 1
        progress[0] += 1
        await asyncio.sleep(0)
    return done


def assert_consistent(path: Path) -> None:
    assert not Path(f"{path}-wal").exists()  # one self-contained file
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for (member,) in conn.execute("SELECT DISTINCT member_id FROM ledger"):
            sums = dict(
                conn.execute("SELECT kind, SUM(amount) FROM ledger WHERE member_id = ? GROUP BY kind", (member,))
            )

            def total(*kinds: str, sums: dict[str, int] = sums) -> int:
                return sum(sums.get(kind, 0) for kind in kinds)

            available = total("grant", "refill", "adjust") - total("hold") + total("release")
            held = total("hold") - total("settle", "release")
            assert available >= 0 and held >= 0
            open_prices = conn.execute(
                f"SELECT COALESCE(SUM(price), 0) FROM jobs WHERE member_id = ? AND state IN {OPEN}", (member,)
            ).fetchone()[0]
            assert held == open_prices  # the ledger and the jobs table were copied at the same instant
        rows = conn.execute(
            "SELECT j.id, j.state, j.price,"
            " (SELECT SUM(amount) FROM ledger WHERE job_id = j.id AND kind = 'hold'),"
            " (SELECT GROUP_CONCAT(kind) FROM ledger WHERE job_id = j.id AND kind IN ('settle', 'release'))"
            " FROM jobs j"
        ).fetchall()
        for _job_id, state, price, hold, settlement in rows:
            assert hold == price
            expected = {"delivered": "settle", "cancelled": "release"}.get(state)
            assert settlement == expected, (state, settlement)


async def test_backups_under_write_load_are_consistent(tmp_path: Path, cli: Cli) -> None:
    source = tmp_path / "wanbot.sqlite3"
    db = await Database.open(source)
    stop = asyncio.Event()
    progress = [0]

    async def more_writes() -> None:
        seen = progress[0]
        while progress[0] < seen + 3:  # noqa: ASYNC110 - a counter the writers bump, polled briefly
            await asyncio.sleep(0.002)

    writers = [asyncio.create_task(write_load(db, stop, seed, progress)) for seed in range(3)]
    try:
        copies = []
        for number in range(6):
            await more_writes()
            copy = tmp_path / "backups" / f"copy-{number}.sqlite3"
            await asyncio.to_thread(backup_database, source, copy)
            copies.append(copy)
        # The command line, too, while the writers go on.
        via_cli = tmp_path / "backups" / "cli.sqlite3"
        result = await cli("backup", str(via_cli), "--config", str(write_config(tmp_path)))
        copies.append(via_cli)
    finally:
        stop.set()
        written = sum(await asyncio.gather(*writers))
        await db.close()
    assert result.code == 0, result.err
    assert f"Backup written to {via_cli}" in result.out and "integrity ok" in result.out
    assert written > 10
    counts = set()
    for copy in copies:
        assert_consistent(copy)
        with sqlite3.connect(copy) as conn:
            counts.add(conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0])
    assert len(counts) > 3  # the copies really were taken while writes went on
    # Restoring is copying the file back: the bot opens it like its own.
    restored = await Database.open(copies[-1])
    try:
        assert await restored.fetchval("SELECT COUNT(*) FROM jobs") > 0
    finally:
        await restored.close()


async def test_backup_refuses_to_overwrite_or_to_copy_nothing(tmp_path: Path, cli: Cli) -> None:
    config = str(write_config(tmp_path))
    result = await cli("backup", str(tmp_path / "copy.sqlite3"), "--config", config)
    assert result.code == 1 and "there is no database at" in result.err
    await (await Database.open(tmp_path / "wanbot.sqlite3")).close()
    target = tmp_path / "copy.sqlite3"
    target.write_text("keep me")
    result = await cli("backup", str(target), "--config", config)
    assert result.code == 1 and "already exists" in result.err and target.read_text() == "keep me"
    result = await cli("backup", str(target), "--force", "--config", config)
    assert result.code == 0
    assert_consistent(target)
    with pytest.raises(BackupError, match="cannot replace the database itself"):
        backup_database(tmp_path / "wanbot.sqlite3", tmp_path / "wanbot.sqlite3", force=True)
