"""Usage for admins: spend per day and top members over the last days, and the ledger as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.clock import Clock
from bot.domain.models import DaySpend, LedgerEntry, MemberSpend
from bot.domain.spreadsheet import spreadsheet_text
from bot.services.chart import spend_chart
from bot.storage.ledger import LedgerRepository
from bot.storage.spend import SpendRepository

STATS_DAYS = 30
TOP_MEMBERS = 10
CSV_COLUMNS = ("id", "created_at", "member_id", "kind", "amount", "job_id", "actor_id", "reason")


@dataclass(frozen=True, slots=True)
class Stats:
    since: datetime  # 00:00 UTC of the first day shown
    days: list[DaySpend]  # one per day, oldest first, zero days included
    top: list[MemberSpend]
    given_back: int = 0  # of the total, credits members have back (refunds, renders not posted)
    provider_charged: int | None = None  # what the provider reported charging, in its own credits

    @property
    def total(self) -> int:
        return sum(day.credits for day in self.days)

    @property
    def jobs(self) -> int:
        return sum(day.jobs for day in self.days)


def csv_row(entry: LedgerEntry) -> tuple[str, ...]:
    return (
        str(entry.id),
        entry.created_at.isoformat(),
        str(entry.member_id),
        entry.kind.value,
        str(entry.amount),
        "" if entry.job_id is None else str(entry.job_id),
        "" if entry.actor_id is None else str(entry.actor_id),
        spreadsheet_text(entry.reason),
    )


class StatsService:
    def __init__(self, ledger: LedgerRepository, spend: SpendRepository, clock: Clock) -> None:
        self.ledger = ledger
        self.spend = spend
        self.clock = clock

    async def stats(self, guild_id: int, days: int = STATS_DAYS) -> Stats:
        today = self.clock().replace(hour=0, minute=0, second=0, microsecond=0)
        since = today - timedelta(days=days - 1)
        found = {day.day: day for day in await self.spend.by_day(guild_id, since)}
        series = []
        for offset in range(days):
            key = (since + timedelta(days=offset)).strftime("%Y-%m-%d")
            series.append(found.get(key, DaySpend(day=key, credits=0, jobs=0)))
        top = await self.spend.top_members(guild_id, since, TOP_MEMBERS)
        summary = await self.spend.summary(guild_id, since)
        return Stats(
            since=since,
            days=series,
            top=top,
            given_back=summary.given_back,
            provider_charged=summary.provider_charged,
        )

    def chart(self, stats: Stats) -> bytes:
        first, last = stats.days[0].day, stats.days[-1].day
        return spend_chart(stats.days, f"Credits spent per day, {first} to {last} (UTC): {stats.total:,} in total")

    async def ledger_csv(self, guild_id: int) -> bytes:
        """Every ledger entry of the server, oldest first; UTF-8 with a header row."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for entry in await self.ledger.entries(guild_id):
            writer.writerow(csv_row(entry))
        return buffer.getvalue().encode("utf-8")
