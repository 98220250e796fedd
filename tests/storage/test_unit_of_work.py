"""``Database.run(work)``: one unit of work per call; on SQLite a group commit with a SAVEPOINT per unit."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

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
