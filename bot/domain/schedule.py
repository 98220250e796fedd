"""When to look at a job next. Pure functions: the runner stores the answer as next_check_at.

A fixed short poll costs about render/interval requests per job. Instead the first status
check waits until shortly before the render is expected to finish (learned from recent
renders of the same shape), and later checks are spaced in proportion to how long the job
has already run, so a long render costs a few requests rather than a hundred. No gap is
ever shorter than the configured poll interval.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence

# The first check lands at the expected render time (median of recent renders of that shape).
FIRST_CHECK_FRACTION = 1.0
# Later gaps are this fraction of the time the job has been rendering.
GROWTH = 0.4
# Even a very long render is looked at at least this often.
MAX_GAP_SECONDS = 120.0
# With completion callbacks on, a callback says when a render is done and polling is only the
# fallback for a lost one: every wait is this many times longer, so a job costs about one status
# check (the one the callback triggers) and a lost callback costs time, never the job.
CALLBACK_FALLBACK_STRETCH = 3.0
# Transient provider errors back off exponentially up to this.
MAX_BACKOFF_SECONDS = 600.0


def expected_render_seconds(history: Sequence[float], fallback: float) -> float:
    """The median of recent renders of the same shape, once there are a few; else the fallback."""
    if len(history) >= 3:
        return max(1.0, statistics.median(history))
    return max(1.0, fallback)


def first_check_delay(expected: float, poll_interval: float, *, stretch: float = 1.0) -> float:
    return max(poll_interval, expected * FIRST_CHECK_FRACTION * stretch)


def next_check_delay(rendering_for: float, expected: float, poll_interval: float, *, stretch: float = 1.0) -> float:
    """Gap after a check that found the job unfinished, ``rendering_for`` seconds after submission."""
    # Checked before the expected finish (a callback hint): look again right around it.
    gap = expected - rendering_for + poll_interval if rendering_for < expected else rendering_for * GROWTH
    return max(poll_interval, min(MAX_GAP_SECONDS * stretch, gap * stretch))


def backoff_delay(attempt: int, poll_interval: float, retry_after: float | None = None) -> float:
    """Delay before retrying after the ``attempt``-th consecutive transient failure (1-based).

    Jitter spreads retries of many jobs so they do not hit a recovering provider together.
    """
    base = min(MAX_BACKOFF_SECONDS, poll_interval * (2 ** max(0, attempt - 1)))
    delay = base * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_BACKOFF_SECONDS))
    return max(poll_interval, delay)
