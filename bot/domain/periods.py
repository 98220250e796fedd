"""Refill periods: which period a moment belongs to, and when the next one starts (UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Literal

Period = Literal["daily", "weekly", "monthly", "never"]

# Members with period "never" get their allowance once, keyed by this.
ONCE = "once"


def period_key(period: Period, moment: datetime) -> str:
    """A stable name for the period containing ``moment``; one refill is written per key."""
    return _key_of_day(period, moment.astimezone(UTC).date())


@lru_cache(maxsize=64)
def _key_of_day(period: Period, day: date) -> str:
    # Every hold asks for today's keys: worked out once per day and period.
    if period == "daily":
        return day.strftime("%Y-%m-%d")
    if period == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "monthly":
        return day.strftime("%Y-%m")
    return ONCE


def period_start(period: Period, moment: datetime) -> datetime | None:
    return _start_of_day(period, moment.astimezone(UTC).date())


@lru_cache(maxsize=64)
def _start_of_day(period: Period, day: date) -> datetime | None:
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if period == "daily":
        return midnight
    if period == "weekly":
        return midnight - timedelta(days=midnight.weekday())  # Monday 00:00 UTC, as ISO weeks do
    if period == "monthly":
        return midnight.replace(day=1)
    return None


def next_refill(period: Period, moment: datetime) -> datetime | None:
    """When the next period starts, or None when there is no next refill."""
    return _next_of_day(period, moment.astimezone(UTC).date())


@lru_cache(maxsize=64)
def _next_of_day(period: Period, day: date) -> datetime | None:
    # Every accept's budget check asks (cheap per call, but per accept): worked out once per day.
    start = _start_of_day(period, day)
    if start is None:
        return None
    if period == "daily":
        return start + timedelta(days=1)
    if period == "weekly":
        return start + timedelta(days=7)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)
