"""Refill periods: which period a moment belongs to, and when the next one starts (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

Period = Literal["daily", "weekly", "monthly", "never"]

# Members with period "never" get their allowance once, keyed by this.
ONCE = "once"


def period_key(period: Period, moment: datetime) -> str:
    """A stable name for the period containing ``moment``; one refill is written per key."""
    moment = moment.astimezone(UTC)
    if period == "daily":
        return moment.strftime("%Y-%m-%d")
    if period == "weekly":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "monthly":
        return moment.strftime("%Y-%m")
    return ONCE


def period_start(period: Period, moment: datetime) -> datetime | None:
    moment = moment.astimezone(UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return day
    if period == "weekly":
        return day - timedelta(days=day.weekday())  # Monday 00:00 UTC, as ISO weeks do
    if period == "monthly":
        return day.replace(day=1)
    return None


def next_refill(period: Period, moment: datetime) -> datetime | None:
    """When the next period starts, or None when there is no next refill."""
    start = period_start(period, moment)
    if start is None:
        return None
    if period == "daily":
        return start + timedelta(days=1)
    if period == "weekly":
        return start + timedelta(days=7)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)
