"""When to look at a job next. Pure functions: the runner stores the answer as next_check_at.

A fixed short poll costs about render/interval requests per job. Instead, without completion
callbacks, the first status check lands at the shortest recent render of the same shape (no
finished render is likely before it), and every later gap is ``patience`` times the time the
job has rendered so far. So a finished render is seen within about ``patience`` × its render
time (plus one loop tick), whatever its length, for a number of requests that grows only with
the logarithm of the render time. No gap is ever shorter than the configured poll interval.

With completion callbacks on, the callback carries the latency and polling is only the
fallback for a lost one: the patient schedule (first check at the median, wide gaps, all
stretched) keeps the cost at about one status check per job.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# The default ``provider.poll_patience``: gaps of 9 % of the time rendered so far. On renders of
# 30–300 s this sees a finished render within 10 % of its render time (p90) for about 11 requests
# (bench/polling.py; bench/RESULTS.md has the frontier).
DEFAULT_PATIENCE = 0.09
# The first check comes at this share of the shortest recent render. Below 1 because a render is
# recorded as taking until the check that saw it finished: checking only at the shortest recorded
# time would never learn that renders got shorter.
FIRST_SHORTEST_FRACTION = 0.9
# With no finished render of this shape yet, the first check comes at this share of the provider's guess.
FIRST_GUESS_FRACTION = 0.5
# Even a very long render is looked at at least this often.
MAX_GAP_SECONDS = 120.0
# The patient schedule (used with callbacks): first check at the median, later gaps 0.4 × elapsed,
# every wait this many times longer, so a lost callback costs time, never the job.
PATIENT_GROWTH = 0.4
CALLBACK_FALLBACK_STRETCH = 3.0
# Transient provider errors back off exponentially up to this.
MAX_BACKOFF_SECONDS = 600.0
# Renders of a shape needed before their median replaces the provider's guess.
_MIN_HISTORY = 3


@dataclass(frozen=True, slots=True)
class RenderEstimate:
    """What recent renders of one shape say about the next one."""

    expected: float  # median of recent renders, or the provider's guess while there are fewer than 3
    shortest: float | None  # the shortest recent render; None when there is none yet
    seen: int  # how many recent renders of this shape there are

    @property
    def from_history(self) -> bool:
        """Whether ``expected`` comes from recent renders (else it is the provider's guess)."""
        return self.seen >= _MIN_HISTORY


def estimate_render(history: Sequence[float], fallback: float) -> RenderEstimate:
    if len(history) >= _MIN_HISTORY:
        return RenderEstimate(max(1.0, statistics.median(history)), max(1.0, min(history)), len(history))
    shortest = max(1.0, min(history)) if history else None
    return RenderEstimate(max(1.0, fallback), shortest, len(history))


def expected_render_seconds(history: Sequence[float], fallback: float) -> float:
    """The median of recent renders of the same shape, once there are a few; else the fallback."""
    return estimate_render(history, fallback).expected


def first_check_delay(estimate: RenderEstimate, poll_interval: float, *, stretch: float = 1.0) -> float:
    if stretch > 1.0:  # callbacks on: the patient schedule
        return max(poll_interval, estimate.expected * stretch)
    if estimate.shortest is not None:
        first = estimate.shortest * FIRST_SHORTEST_FRACTION
    else:
        first = estimate.expected * FIRST_GUESS_FRACTION
    return max(poll_interval, first)


def next_check_delay(
    rendering_for: float,
    expected: float,
    poll_interval: float,
    *,
    patience: float = DEFAULT_PATIENCE,
    stretch: float = 1.0,
) -> float:
    """Gap after a check that found the job unfinished, ``rendering_for`` seconds after submission."""
    if stretch > 1.0:
        # Checked before the expected finish (a callback hint): look again right around it.
        early = rendering_for < expected
        gap = expected - rendering_for + poll_interval if early else rendering_for * PATIENT_GROWTH
        return max(poll_interval, min(MAX_GAP_SECONDS * stretch, gap * stretch))
    return max(poll_interval, min(MAX_GAP_SECONDS, rendering_for * patience))


def backoff_delay(attempt: int, poll_interval: float, retry_after: float | None = None) -> float:
    """Delay before retrying after the ``attempt``-th consecutive transient failure (1-based).

    Jitter spreads retries of many jobs so they do not hit a recovering provider together.
    """
    base = min(MAX_BACKOFF_SECONDS, poll_interval * (2 ** max(0, attempt - 1)))
    delay = base * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_BACKOFF_SECONDS))
    return max(poll_interval, delay)
