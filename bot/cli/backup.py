"""``python -m bot backup PATH``: a consistent copy of the live database, safe while the bot runs.

SQLite's online backup API copies every page in one step under a read transaction. The
database is in WAL mode, so that read neither blocks the bot's writes nor sees half of one:
the copy is the database as of one committed transaction. It is written beside the target,
checked with ``PRAGMA integrity_check``, switched out of WAL mode so it is one self-contained
file, and only then renamed into place, so a failed or interrupted backup never leaves a
half-written file under the target name.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

_BUSY_TIMEOUT_SECONDS = 30.0


class BackupError(Exception):
    """The backup was not made; the message says why in plain words."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size: int
    schema_version: int
    jobs: int
    ledger_entries: int


def backup_database(
    source: str | os.PathLike[str], target: str | os.PathLike[str], *, force: bool = False
) -> BackupResult:
    """Copy ``source`` to ``target``. Blocking: run it in a thread from async code."""
    source_path, target_path = Path(source), Path(target)
    if not source_path.is_file():
        raise BackupError(f"there is no database at {source_path} (check [database] path)")
    if target_path.exists() and not force:
        raise BackupError(f"{target_path} already exists; choose another name or pass --force to replace it")
    if target_path.resolve() == source_path.resolve():
        raise BackupError("the backup cannot replace the database itself")
    target_path.parent.mkdir(parents=True, exist_ok=True)
    partial = target_path.with_name(target_path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        result = _copy(source_path, partial)
        os.replace(partial, target_path)
    except sqlite3.Error as error:
        raise BackupError(f"the copy failed: {error}") from None
    finally:
        for leftover in (partial, partial.with_name(partial.name + "-wal"), partial.with_name(partial.name + "-shm")):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)
    return BackupResult(target_path, target_path.stat().st_size, *result)


def _copy(source: Path, partial: Path) -> tuple[int, int, int]:
    # A plain connection, not ?mode=ro: a read-only connection to a WAL database fails when the
    # bot is not running and the -shm file is absent. Nothing is written through it.
    src = sqlite3.connect(source, timeout=_BUSY_TIMEOUT_SECONDS)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: everything in one step, one consistent snapshot
            dst.execute("PRAGMA journal_mode = DELETE")
            check = dst.execute("PRAGMA integrity_check").fetchall()
            if check != [("ok",)]:
                raise BackupError(f"the copy failed its integrity check: {check[:3]}")
            version = int(dst.execute("PRAGMA user_version").fetchone()[0])
            jobs = _count(dst, "jobs")
            entries = _count(dst, "ledger")
            dst.commit()
        finally:
            dst.close()
    finally:
        src.close()
    with open(partial, "rb") as written:  # on disk before the rename makes it the backup
        os.fsync(written.fileno())
    return version, jobs, entries


def _count(conn: sqlite3.Connection, table: str) -> int:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]) if exists else 0
