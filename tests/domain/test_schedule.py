"""The per-job polling schedule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.schedule import (
    DEFAULT_PATIENCE,
    MAX_BACKOFF_SECONDS,
    MAX_GAP_SECONDS,
    RenderEstimate,
    backoff_delay,
    estimate_render,
    expected_render_seconds,
    first_check_delay,
    next_check_delay,
)


def checks_until(render: float, estimate: RenderEstimate, interval: float, patience: float) -> tuple[int, float]:
    """Status checks a render of ``render`` seconds costs, and when the finished render is seen."""
    t = first_check_delay(estimate, interval)
    checks = 1
    while t < render:
        t += next_check_delay(t, estimate.expected, interval, patience=patience)
        checks += 1
    return checks, t


def test_first_check_comes_just_before_the_shortest_recent_render() -> None:
    assert first_check_delay(estimate_render([60, 100, 240], fallback=500), poll_interval=5) == 54
    # Nothing finished yet for this shape: half the provider's guess, never under the interval.
    assert first_check_delay(estimate_render([], fallback=100), poll_interval=5) == 50
    assert first_check_delay(estimate_render([], fallback=4), poll_interval=5) == 5


def test_history_median_beats_the_guess_once_there_is_some() -> None:
    assert expected_render_seconds([50, 70], fallback=100) == 100
    assert expected_render_seconds([50, 70, 400], fallback=100) == 70
    assert estimate_render([50, 70, 400], fallback=100).from_history
    one = estimate_render([50], fallback=100)
    assert (one.expected, one.seen, one.from_history) == (100, 1, False)  # still the provider's guess


@given(render=st.floats(min_value=60, max_value=1200), patience=st.floats(min_value=0.03, max_value=0.5))
def test_a_finished_render_is_seen_within_patience_of_its_render_time(render: float, patience: float) -> None:
    estimate = estimate_render([30, 120, 300], fallback=100)
    _, seen_at = checks_until(render, estimate, interval=2, patience=patience)
    assert seen_at - render <= max(2, patience * render) + 1e-6


def test_checks_grow_with_the_logarithm_of_the_render_time() -> None:
    """The longest render of a 30-300 s spread costs under 30 checks (a fixed 3 s poll: 100); the median a dozen."""
    estimate = estimate_render([30, 120, 300], fallback=100)
    assert checks_until(300, estimate, interval=5, patience=DEFAULT_PATIENCE)[0] <= 30
    assert checks_until(120, estimate, interval=5, patience=DEFAULT_PATIENCE)[0] <= 18


def test_more_patience_means_fewer_checks() -> None:
    estimate = estimate_render([30, 120, 300], fallback=100)
    assert checks_until(300, estimate, 5, 0.2)[0] < checks_until(300, estimate, 5, 0.05)[0]


@given(
    rendering_for=st.floats(min_value=0, max_value=10_000),
    expected=st.floats(min_value=1, max_value=3600),
    interval=st.floats(min_value=1, max_value=60),
    patience=st.floats(min_value=0.02, max_value=1),
)
def test_gaps_respect_the_poll_interval_and_the_cap(
    rendering_for: float, expected: float, interval: float, patience: float
) -> None:
    gap = next_check_delay(rendering_for, expected, interval, patience=patience)
    assert interval <= gap <= max(interval, MAX_GAP_SECONDS)


@given(attempt=st.integers(min_value=1, max_value=50), retry_after=st.one_of(st.none(), st.floats(0, 10_000)))
def test_backoff_honours_retry_after_and_stays_bounded(attempt: int, retry_after: float | None) -> None:
    delay = backoff_delay(attempt, 5, retry_after)
    assert 5 <= delay <= MAX_BACKOFF_SECONDS * 1.2
    if retry_after is not None:
        assert delay >= min(retry_after, MAX_BACKOFF_SECONDS)


def test_with_callbacks_polling_stays_a_patient_fallback() -> None:
    """A callback brings the result; polls only catch a lost one: median first, wide gaps, three times longer."""
    estimate = estimate_render([60, 100, 240], fallback=500)
    assert first_check_delay(estimate, 5, stretch=3) == 300
    assert next_check_delay(200, 100, 5, stretch=3) == pytest.approx(3 * 0.4 * 200)
    assert next_check_delay(10_000, 100, 5, stretch=3) == 3 * MAX_GAP_SECONDS
    # patience does not apply there
    assert next_check_delay(400, 100, 5, patience=0.02, stretch=3) == next_check_delay(400, 100, 5, stretch=3)
