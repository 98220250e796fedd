"""A bar chart of credits spent per day, drawn with Pillow.

Pillow rather than matplotlib: the chart is thirty bars and a few labels, Pillow is one small
wheel with its own font, and matplotlib would bring numpy, a font cache built on first use and
seconds of import time into a bot that draws one chart per admin request.
Drawing takes a few milliseconds, so it runs inline rather than in a thread.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from bot.domain.models import DaySpend

WIDTH, HEIGHT = 960, 420
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 70, 20, 50, 60
_BACKGROUND = (255, 255, 255)
_BAR = (88, 101, 242)
_AXIS = (60, 60, 60)
_GRID = (225, 225, 225)
_TEXT = (30, 30, 30)


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value``: round gridline labels."""
    if value <= 0:
        return 10
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def spend_chart(days: Sequence[DaySpend], title: str) -> bytes:
    """A PNG with one bar per day (days in order, zero days included by the caller)."""
    image = Image.new("RGB", (WIDTH, HEIGHT), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=12)
    draw.text((_MARGIN_LEFT, 15), title, fill=_TEXT, font=font)

    left, top = _MARGIN_LEFT, _MARGIN_TOP
    right, bottom = WIDTH - _MARGIN_RIGHT, HEIGHT - _MARGIN_BOTTOM
    top_value = _nice_ceiling(max((day.credits for day in days), default=0))
    for step in range(5):
        value = top_value * step // 4
        y = bottom - (bottom - top) * step / 4
        draw.line([(left, y), (right, y)], fill=_GRID if step else _AXIS)
        draw.text((left - 8, y), f"{value:,}", fill=_TEXT, font=small, anchor="rm")
    draw.line([(left, top), (left, bottom)], fill=_AXIS)

    if days:
        slot = (right - left) / len(days)
        for index, day in enumerate(days):
            x0 = left + index * slot + slot * 0.15
            x1 = left + (index + 1) * slot - slot * 0.15
            if day.credits > 0:
                height = (bottom - top) * day.credits / top_value
                draw.rectangle([(x0, bottom - height), (x1, bottom - 1)], fill=_BAR)
            # Every fifth day and the last one get a date label (MM-DD), so labels never overlap.
            if index % 5 == 0 or index == len(days) - 1:
                draw.text(((x0 + x1) / 2, bottom + 8), day.day[5:], fill=_TEXT, font=small, anchor="mt")
    draw.text(
        (left, HEIGHT - 22), "credits spent per UTC day (renders the provider account paid for)", fill=_AXIS, font=small
    )

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
