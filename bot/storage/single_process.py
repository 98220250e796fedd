"""One bot process per SQLite file, enforced with a lock file held for the process's lifetime.

Two bot processes on one file would each submit the same queued job (two paid tasks) and post
one result twice: the job loop assumes it is the only one. PostgreSQL is the backend for more
than one process. The lock is a POSIX record lock on ``<database>.lock``: the kernel drops it
when the process dies, however it dies, so a crash never leaves a stale lock behind. Record
locks belong to the process, so the bot reopening its own file (a restart in tests) is not
refused; a registry counts those opens because closing any descriptor would drop the lock.
"""

from __future__ import annotations

import fcntl
import os
import threading
from dataclasses import dataclass
from pathlib import Path


class DatabaseInUse(RuntimeError):
    """Another process holds this SQLite file."""


_held: dict[str, tuple[int, int]] = {}  # lock file → (descriptor, opens in this process)
_guard = threading.Lock()


@dataclass
class ProcessLock:
    lock_path: str

    @classmethod
    def acquire(cls, database_path: str) -> ProcessLock:
        lock_path = str(Path(database_path).resolve()) + ".lock"
        with _guard:
            if lock_path in _held:
                fd, count = _held[lock_path]
                _held[lock_path] = (fd, count + 1)
                return cls(lock_path)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip()
                os.close(fd)
                pid = f" (pid {holder})" if holder.isdigit() else ""
                raise DatabaseInUse(
                    f"{database_path} is already used by another bot process{pid}; SQLite allows one bot "
                    'process per file. For more than one process use PostgreSQL: [database] url = "postgresql://…"'
                ) from None
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            _held[lock_path] = (fd, 1)
        return cls(lock_path)

    def release(self) -> None:
        with _guard:
            entry = _held.get(self.lock_path)
            if entry is None:
                return
            fd, count = entry
            if count > 1:
                _held[self.lock_path] = (fd, count - 1)
                return
            del _held[self.lock_path]
            os.close(fd)  # closing the descriptor drops the record lock
