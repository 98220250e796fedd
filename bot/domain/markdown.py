"""Text a member (or moderator) typed, made safe to echo inside the bot's own Discord markup.

One helper for every echo: prompts, reasons, filenames, rule values. Discord renders markdown in
message content and embed text, so a prompt holding ``[discord.com/nitro](https://…)`` would show
as a live masked link under the bot's name, ``# big`` as a header, and a newline inside a ``>``
quote would end the quote and let the rest pose as the bot's own words.

Why not ``discord.utils.escape_markdown``: the domain does not import discord, and that function
leaves numbered lists (``1.``), closing brackets, ``<@id>``/``<t:…>``/``<:emoji:id>`` tags,
``@everyone`` and newlines inside quotes as they are. Discord's parser treats a backslash before
any ASCII punctuation as "this character, literally", so escaping generously costs only length.
"""

from __future__ import annotations

import re

# Inline markup: emphasis, underline, strikethrough, spoilers, code, quotes, masked links,
# headers, mentions and tags (``<@…>``, ``<#…>``, ``<t:…>``) and @everyone/@here.
_INLINE = re.compile(r"([\\*_~|`>\[\]()<#@])")
# Markup that only counts at the start of a line: lists ("- ", "+ ", "1. ") and subtext ("-# ").
_LINE_START = re.compile(r"^(\s*)([-+]|\d+\.)", re.MULTILINE)


def escape(text: str) -> str:
    """``text`` shown exactly as typed, whatever markup it contains. Newlines are kept."""
    escaped = _INLINE.sub(r"\\\1", text)
    return _LINE_START.sub(lambda match: match.group(1) + _escape_list_marker(match.group(2)), escaped)


def _escape_list_marker(marker: str) -> str:
    return marker[:-1] + "\\." if marker.endswith(".") else "\\" + marker


def inline(text: str) -> str:
    """``text`` escaped and on one line: for echoes inside a sentence or a quote mark."""
    return escape(" ".join(text.split()))


def quote(text: str) -> str:
    """``text`` as a Discord block quote: every line stays inside the quote."""
    return "\n".join(f"> {escape(line)}" for line in (text.splitlines() or [""]))


def code(text: str) -> str:
    """``text`` as inline code, where nothing is markup. The fence is one backtick longer than the
    longest run of backticks inside, so a backtick in the text cannot end the span early."""
    flat = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    # A space pads a span that starts or ends with a backtick (Discord strips one on each side).
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"
