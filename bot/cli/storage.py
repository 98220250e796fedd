"""Opening the database for ``run`` and ``check``: every way it can fail becomes one sentence
naming the path and what to change (the folder and the user id that needs write access)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from bot.storage.db import Database, SchemaError, is_postgres_url

# The Docker image's user (Dockerfile: USER 10001); named in the hint because a volume made by
# root is the usual cause there.
IMAGE_UID = 10001


class StorageError(Exception):
    """The database cannot be used; the message is the whole explanation."""


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path


def _owner(path: Path) -> str:
    try:
        return f", owned by user id {path.stat().st_uid}"
    except OSError:
        return ""


def access_problem(path: str) -> str | None:
    """Why this process could not create or write the database file, or None."""
    file = Path(path)
    uid = os.getuid()
    if file.exists():
        if file.is_dir():
            return f"{file} is a folder; [database] path must name a file inside it"
        if not os.access(file, os.R_OK | os.W_OK):
            return (
                f"{file}{_owner(file)}: user id {uid} cannot write it. Give that user write access"
                f" (the Docker image runs as user id {IMAGE_UID})"
            )
    folder = _nearest_existing(file.parent)
    if not folder.is_dir():
        return f"{folder} is a file, so the database folder {file.parent} cannot be made"
    # SQLite writes its -wal and -shm files beside the database, so the folder must be writable.
    if not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"{folder}{_owner(folder)}: user id {uid} cannot write in this folder, which the database"
            f" {file.name} needs. Give that user write access (the Docker image runs as user id {IMAGE_UID})"
        )
    return None


async def open_database(path: str, *, single_process: bool = False) -> Database:
    """Open and migrate the database at ``path`` (a SQLite file or a PostgreSQL URL) as ``run``
    does, or raise ``StorageError``."""
    if is_postgres_url(path):
        return await _open_postgres(path)
    problem = access_problem(path)
    if problem is not None:
        raise StorageError(f"Database not usable: {problem}.")
    try:
        return await Database.open(path, single_process=single_process)
    except sqlite3.DatabaseError as error:
        raise StorageError(
            f"Database not usable: {path} is not an SQLite database this bot can open ({error})."
            " Check [database] path, or restore a backup."
        ) from None
    except RuntimeError as error:  # newer than this bot, or broken migrations
        raise StorageError(f"Database not usable: {path}: {error}.") from None
    except OSError as error:
        raise StorageError(
            f"Database not usable: {path} cannot be created or opened ({error.strerror or error})."
        ) from None


async def _open_postgres(url: str) -> Database:
    """The PostgreSQL URL opened and migrated; a refused connection or schema in one sentence,
    with the URL shown without its password."""
    from bot.storage.postgres import redacted

    shown = redacted(url)
    try:
        return await Database.open(url)
    except SchemaError as error:
        raise StorageError(f"Database not usable: {shown}: {error}.") from None
    except (OSError, TimeoutError) as error:
        raise StorageError(
            f"Database not usable: cannot connect to {shown} ({error.strerror or type(error).__name__})."
            " Check [database] url and that the server is running."
        ) from None
    except Exception as error:  # asyncpg's own errors: authentication, unknown database, …
        raise StorageError(
            f"Database not usable: {shown} refused the connection ({type(error).__name__})."
            " Check [database] url: user, password and database name."
        ) from None
