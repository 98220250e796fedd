"""The per-job polling schedule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.schedule import (
    MAX_BACKOFF_SECONDS,
    MAX_GAP_SECONDS,
    backoff_delay,
    expected_render_seconds,
    first_check_delay,
    next_check_delay,
)


def test_first_check_waits_for_the_expected_render() -> None:
    assert first_check_delay(expected=100, poll_interval=5) == 100
    assert first_check_delay(expected=2, poll_interval=5) == 5


def test_history_median_beats_the_guess_once_there_is_some() -> None:
    assert expected_render_seconds([50, 70], fallback=100) == 100
    assert expected_render_seconds([50, 70, 400], fallback=100) == 70


def test_checks_for_a_long_render_stay_few() -> None:
    """A 300 s render with a 100 s expectation costs a handful of checks, not 60."""
    expected, interval, t, checks = 100.0, 5.0, 0.0, 0
    t = first_check_delay(expected, interval)
    while True:
        checks += 1
        if t >= 300:
            break
        t += next_check_delay(t, expected, interval)
    assert checks <= 5


@given(
    rendering_for=st.floats(min_value=0, max_value=10_000),
    expected=st.floats(min_value=1, max_value=3600),
    interval=st.floats(min_value=1, max_value=60),
)
def test_gaps_respect_the_poll_interval_and_the_cap(rendering_for: float, expected: float, interval: float) -> None:
    gap = next_check_delay(rendering_for, expected, interval)
    assert interval <= gap <= max(interval, MAX_GAP_SECONDS)


@given(attempt=st.integers(min_value=1, max_value=50), retry_after=st.one_of(st.none(), st.floats(0, 10_000)))
def test_backoff_honours_retry_after_and_stays_bounded(attempt: int, retry_after: float | None) -> None:
    delay = backoff_delay(attempt, 5, retry_after)
    assert 5 <= delay <= MAX_BACKOFF_SECONDS * 1.2
    if retry_after is not None:
        assert delay >= min(retry_after, MAX_BACKOFF_SECONDS)


def test_with_callbacks_polling_is_a_patient_fallback() -> None:
    """A callback brings the result; polls only catch a lost one, so they wait three times longer."""
    assert first_check_delay(100, 5, stretch=3) == 300
    assert next_check_delay(400, 100, 5, stretch=3) == 3 * next_check_delay(400, 100, 5)
    assert next_check_delay(10_000, 100, 5, stretch=3) == 3 * MAX_GAP_SECONDS
