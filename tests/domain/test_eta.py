"""The ETA arithmetic shown in progress messages."""

from __future__ import annotations

from bot.domain.eta import longer_than_usual, progress_bar, queue_start_in, share_done


def test_the_bar_fills_with_elapsed_against_expected_and_stops_short_of_done() -> None:
    assert progress_bar(share_done(0, 100)) == "▱" * 10
    assert progress_bar(share_done(50, 100)) == "▰" * 5 + "▱" * 5
    assert progress_bar(share_done(500, 100)) == "▰" * 9 + "▱"


def test_longer_than_usual_only_past_the_expectation() -> None:
    assert not longer_than_usual(100, 100)
    assert longer_than_usual(101, 100)


def test_queue_start_grows_by_a_render_per_wave_of_slots() -> None:
    assert queue_start_in(1, 4, 100) == 50
    assert queue_start_in(4, 4, 100) == 50
    assert queue_start_in(5, 4, 100) == 150
