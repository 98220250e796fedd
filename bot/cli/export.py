"""``python -m bot export-ledger [--guild ID] [PATH|-]``: the credit ledger as CSV.

One row per ledger entry, oldest first, read in pages so a large ledger neither fills memory
nor holds the database for long (the bot may be running). Amounts are as stored (holds,
settlements and releases are positive); ``available_change`` and ``held_change`` say what each
entry did to the member's balance, so a spreadsheet can sum them directly.
"""

from __future__ import annotations

import csv
from typing import TextIO

from bot.domain.models import LedgerKind
from bot.domain.spreadsheet import spreadsheet_text
from bot.storage.db import Database
from bot.storage.ledger import ExportedEntry, LedgerRepository

HEADER = (
    "id",
    "created_at",
    "guild_id",
    "member_id",
    "kind",
    "amount",
    "available_change",
    "held_change",
    "job_id",
    "actor_id",
    "reason",
    "period",
)
_PAGE = 1000


def _changes(kind: LedgerKind, amount: int) -> tuple[int, int]:
    """(available, held) deltas; the same arithmetic as the balance query in ``bot.storage.ledger``."""
    if kind is LedgerKind.HOLD:
        return -amount, amount
    if kind is LedgerKind.SETTLE:
        return 0, -amount
    if kind is LedgerKind.RELEASE:
        return amount, -amount
    return amount, 0


def _row(item: ExportedEntry) -> list[object]:
    entry = item.entry
    available, held = _changes(entry.kind, entry.amount)
    return [
        entry.id,
        entry.created_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        entry.guild_id,
        entry.member_id,
        entry.kind.value,
        entry.amount,
        available,
        held,
        "" if entry.job_id is None else entry.job_id,
        "" if entry.actor_id is None else entry.actor_id,
        spreadsheet_text(entry.reason),
        spreadsheet_text(item.period),
    ]


async def export_ledger(db: Database, out: TextIO, *, guild_id: int | None = None) -> int:
    """Write the CSV to ``out``; returns the number of entries written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    written, after = 0, 0
    async with db.snapshot() as tx:
        while True:
            page = await LedgerRepository.export_page_in(tx, after_id=after, limit=_PAGE, guild_id=guild_id)
            if not page:
                return written
            writer.writerows(_row(item) for item in page)
            written += len(page)
            after = page[-1].entry.id
