"""Time as the rest of the bot sees it: aware UTC datetimes, stored as epoch seconds.

Services take a ``Clock`` instead of calling ``datetime.now()``: the Discord bot passes
``discord.utils.utcnow`` (which the simulated Discord moves in tests), the core never cares.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def to_ts(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; use aware UTC datetimes")
    return moment.timestamp()


def from_ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)
