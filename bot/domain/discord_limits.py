"""Discord's size limits, and fitting text into them.

Discord refuses a whole message (HTTP 400) when any part is over its limit, and the member then
sees nothing, or "something went wrong". Every reply that lists things goes through these
helpers: lists lose their tail with "… and N more", free text is cut with "…". Pure text, no
discord import, so services that build refusal texts can use it too; embeds are fitted by
``bot.ui.render.fit_embed`` with the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

CONTENT = 2000  # message content
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR = 256
EMBED_TOTAL = 6000  # title + description + field names and values + footer + author
EMBED_FIELDS = 25
ACTION_ROWS = 5
BUTTONS_PER_ROW = 5


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when it was cut."""
    if limit <= 0:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def more_note(count: int) -> str:
    return f"… and {count} more"


def fit_lines(items: Sequence[str], limit: int, *, sep: str = "\n", empty: str = "") -> str:
    """Join whole items until ``limit``; the items that do not fit become "… and N more".

    The result is never longer than ``limit`` (an item too long on its own is cut)."""
    if not items:
        return truncate(empty, limit)
    joined = sep.join(items)
    if len(joined) <= limit:
        return joined
    note_room = len(sep) + len(more_note(len(items)))  # the longest note this list can need
    shown: list[str] = []
    used = 0
    for item in items:
        cost = len(item) + (len(sep) if shown else 0)
        if used + cost + note_room > limit:
            break
        shown.append(item)
        used += cost
    if not shown and limit - note_room > 1:
        shown.append(truncate(items[0], limit - note_room))
    left = len(items) - len(shown)
    return truncate(sep.join([*shown, more_note(left)] if left else shown), limit)
