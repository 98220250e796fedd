"""What a member is told about when their video comes. Pure functions over seconds.

The expectation comes from recent renders of the same shape (``schedule.RenderEstimate``);
these turn it into a share done, a small text bar and, for a queued job, a rough start.
"""

from __future__ import annotations

import math

BAR_CELLS = 10
_FULL, _EMPTY = "▰", "▱"


def share_done(elapsed: float, expected: float) -> float:
    """Elapsed against expected, 0..1. Never 1 before the video is seen: the bar stops one cell short."""
    if expected <= 0:
        return 0.0
    return max(0.0, min(elapsed / expected, (BAR_CELLS - 1) / BAR_CELLS))


def progress_bar(share: float) -> str:
    filled = max(0, min(BAR_CELLS, math.floor(share * BAR_CELLS)))
    return _FULL * filled + _EMPTY * (BAR_CELLS - filled)


def longer_than_usual(elapsed: float, expected: float) -> bool:
    return elapsed > expected


def queue_start_in(position: int, slots: int, expected: float) -> float:
    """Seconds until the job at ``position`` (1 = next) is likely sent, with ``slots`` renders at once.

    Rough on purpose: the jobs rendering now are on average half done, so the first wave frees
    its slots in about half a render and each later wave takes a whole one."""
    waves = math.ceil(max(1, position) / max(1, slots))
    return (waves - 0.5) * expected
