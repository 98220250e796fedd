"""``Database.run(work)``: one unit of work per call; on SQLite a group commit with a SAVEPOINT per unit."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from bot.storage.db import CommitFailed, Database, Migration, Tx, UnitAwaitedOther

_NOTES = Migration(1, "0001_notes.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);\n")
# A deferred foreign key is checked only at COMMIT: the way to make a COMMIT itself fail.
_DEFERRED = Migration(
    2,
    "0002_deferred.sql",
    "CREATE TABLE parents (id INTEGER PRIMARY KEY);\n"
    "CREATE TABLE children (id INTEGER PRIMARY KEY,"
    " parent_id INTEGER NOT NULL REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED);\n",
)


class Refused(Exception):
    pass


def note(text: str, *, refuse: bool = False):  # type: ignore[no-untyped-def]
    async def work(tx: Tx) -> int:
        new_id = await tx.insert("INSERT INTO notes (text) VALUES (?)", (text,))
        if refuse:
            raise Refused(text)
        return new_id

    return work


async def texts(db: Database) -> list[str]:
    return [row["text"] for row in await db.fetchall("SELECT text FROM notes ORDER BY id")]


@pytest.mark.sqlite_only
async def test_a_refusal_rolls_back_only_its_own_unit(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3", migrations=[_NOTES])
    try:
        # Handed over together, so they share one batch and one COMMIT.
        results = await asyncio.gather(
            db.run(note("first")), db.run(note("refused", refuse=True)), db.run(note("third")), return_exceptions=True
        )
        assert isinstance(results[1], Refused)
        assert await texts(db) == ["first", "third"]
        assert db.stats.commits == 2  # the migration's, and the one batch's
    finally:
        await db.close()


@pytest.mark.sqlite_only
async def test_the_caller_hears_its_result_after_the_commit(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await Database.open(path, migrations=[_NOTES])
    try:
        await db.run(note("durable"))
        # Another connection (another process, after a crash) already sees it.
        other = sqlite3.connect(path)
        try:
            assert other.execute("SELECT text FROM notes").fetchall() == [("durable",)]
        finally:
            other.close()
    finally:
        await db.close()


@pytest.mark.sqlite_only
async def test_a_failed_commit_fails_every_unit_of_its_batch(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3", migrations=[_NOTES, _DEFERRED])

    async def orphan(tx: Tx) -> None:
        await tx.execute("INSERT INTO children (parent_id) VALUES (42)")

    try:
        results = await asyncio.gather(db.run(note("innocent")), db.run(orphan), return_exceptions=True)
        assert all(isinstance(result, CommitFailed) for result in results), results
        assert await texts(db) == []
        # The connection is usable again at once.
        await db.run(note("after"))
        assert await texts(db) == ["after"]
    finally:
        await db.close()


@pytest.mark.sqlite_only
async def test_a_unit_that_awaits_anything_else_fails_loudly(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3", migrations=[_NOTES])

    async def sleepy(tx: Tx) -> None:
        await tx.insert("INSERT INTO notes (text) VALUES ('half done')")
        await asyncio.sleep(0)

    try:
        with pytest.raises(UnitAwaitedOther, match="may await only its transaction"):
            await db.run(sleepy)
        assert await texts(db) == []
    finally:
        await db.close()


async def test_a_unit_of_work_commits_or_not_at_all(db: Database) -> None:
    async def half(tx: Tx) -> None:
        await tx.execute("UPDATE guild_settings SET budget_cap = 1 WHERE guild_id = 0")
        await tx.insert(
            "INSERT INTO ledger (guild_id, member_id, kind, amount, created_at) VALUES (1, 2, 'grant', 5, 0)"
        )
        raise Refused("no")

    with pytest.raises(Refused):
        await db.run(half)
    assert await db.fetchval("SELECT COUNT(*) FROM ledger") == 0


@pytest.mark.sqlite_only
async def test_units_wait_off_the_event_loop_while_another_connection_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await Database.open(path, migrations=[_NOTES])
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    try:
        other.execute("BEGIN IMMEDIATE")  # a backup or a maintenance command writing meanwhile
        ticker = asyncio.create_task(ticking())
        written = asyncio.create_task(db.run(note("after the lock")))
        await asyncio.sleep(0.3)
        assert not written.done()  # waiting for the lock, not refused
        assert ticks >= 10  # the loop kept running meanwhile: the wait is on aiosqlite's thread
        other.execute("COMMIT")
        await asyncio.wait_for(written, timeout=5)
        ticker.cancel()
        assert await texts(db) == ["after the lock"]
    finally:
        other.close()
        await db.close()


@pytest.mark.sqlite_only
async def test_a_burst_of_units_shares_few_commits(tmp_path: Path) -> None:
    from bot.storage.sqlite import MAX_BATCH

    db = await Database.open(tmp_path / "db.sqlite3", migrations=[_NOTES])
    try:
        before = db.stats.copy()
        count = MAX_BATCH + 10
        await asyncio.gather(*(db.run(note(f"note {n}")) for n in range(count)))
        # Handed over together: one full batch and the rest, each one COMMIT and one hop.
        assert db.stats.commits - before.commits == 2
        assert db.stats.round_trips - before.round_trips == 2
        assert len(await texts(db)) == count
    finally:
        await db.close()


@pytest.mark.sqlite_only
async def test_a_writer_cancelled_during_its_commit_tells_the_callers_what_was_written(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3", migrations=[_NOTES])
    hop = db._conn._execute  # type: ignore[attr-defined]

    async def slow_commit(fn: Any, *args: Any, **kwargs: Any) -> Any:
        def slowly() -> Any:
            if args == ("COMMIT",):
                time.sleep(0.2)  # a slow disk's fsync
            return fn(*args, **kwargs)

        return await hop(slowly)

    db._conn._execute = slow_commit  # type: ignore[attr-defined]
    try:
        written = asyncio.ensure_future(db.run(note("committed")))
        await asyncio.sleep(0.05)  # the unit ran; its COMMIT is on the database thread
        writer = db._writer  # type: ignore[attr-defined]
        writer.cancel()
        assert await written >= 1  # not CommitFailed: the COMMIT went through
        with pytest.raises(asyncio.CancelledError):
            await writer
        db._conn._execute = hop  # type: ignore[attr-defined]
        assert await texts(db) == ["committed"]
        await db.run(note("and the connection takes the next batch"))
        assert len(await texts(db)) == 2
    finally:
        db._conn._execute = hop  # type: ignore[attr-defined]
        await db.close()
