"""fit_lines: never over the limit, whole items in order, and an honest count of the rest."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.discord_limits import fit_lines, truncate

_LINE = st.text(st.characters(blacklist_characters="\n"), min_size=1, max_size=300)


@given(st.lists(_LINE, max_size=120), st.integers(min_value=40, max_value=4096))
def test_fit_lines_stays_within_the_limit_and_counts_what_it_left_out(items: list[str], limit: int) -> None:
    fitted = fit_lines(items, limit)
    assert len(fitted) <= limit
    if len("\n".join(items)) <= limit:
        assert fitted == "\n".join(items)
        return
    lines = fitted.split("\n")
    note = re.fullmatch(r"… and (\d+) more", lines[-1])
    shown = lines[:-1] if note else lines
    left = int(note.group(1)) if note else 0
    assert len(shown) + left == len(items)
    # Whole items, in order; only a first item too long on its own is cut (and marked "…").
    assert shown[1:] == items[1 : len(shown)]
    assert not shown or shown[0] == items[0] or (shown[0].endswith("…") and items[0].startswith(shown[0][:-1]))


def test_a_long_channel_list_ends_in_a_count() -> None:
    channels = [f"<#{10**18 + n}>" for n in range(100)]
    fitted = fit_lines(channels, 200, sep=", ")
    assert len(fitted) <= 200 and fitted.endswith("… and 93 more")
    assert fitted.startswith(", ".join(channels[:7]))


def test_truncate_marks_the_cut() -> None:
    assert truncate("abcdef", 4) == "abc…" and truncate("abc", 4) == "abc" and truncate("abc", 0) == ""
