"""Everything that differs between SQLite's and PostgreSQL's SQL, in one place.

Repositories write one SQL text with ``?`` placeholders, ``ON CONFLICT DO NOTHING`` and plain
expressions both dialects accept; the few expressions that cannot be shared come from a
``Dialect`` (``db.dialect``), and the PostgreSQL adapter rewrites placeholders to ``$n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str

    def utc_day(self, epoch_seconds: str) -> str:
        """'YYYY-MM-DD' (UTC) of a column holding epoch seconds."""
        if self.name == "postgresql":
            return f"to_char(to_timestamp({epoch_seconds}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        return f"date({epoch_seconds}, 'unixepoch')"

    @property
    def writable_ctes(self) -> bool:
        """Whether one statement may write several tables (``WITH … AS (INSERT …)``): on PostgreSQL
        that saves round trips; SQLite has no such statements and no round trips to save."""
        return self.name == "postgresql"

    def skip_locked(self) -> str:
        """Row locks for a claim that skips rows another transaction is claiming. SQLite has none
        and needs none: BEGIN IMMEDIATE lets one writer in at a time."""
        return " FOR UPDATE SKIP LOCKED" if self.name == "postgresql" else ""


SQLITE = Dialect("sqlite")
POSTGRESQL = Dialect("postgresql")


@lru_cache(maxsize=1024)
def numbered_placeholders(sql: str) -> str:
    """``?`` → ``$1, $2, …`` outside quoted literals and identifiers (asyncpg's placeholder style)."""
    out: list[str] = []
    number = 0
    quote: str | None = None
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            number += 1
            out.append(f"${number}")
            continue
        out.append(char)
    return "".join(out)
