"""/wan-admin stats and export content: spend per day, top members, a real PNG, the ledger as CSV."""

from __future__ import annotations

import csv
import io

from PIL import Image

from bot.services.chart import HEIGHT, WIDTH
from bot.services.credits import MemberContext
from bot.services.stats import CSV_COLUMNS, csv_row
from bot.storage.db import Database
from tests.support import GUILD, ManualClock, build_guarded, request, spec


async def test_stats_count_held_and_kept_but_not_refunded(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock, limits={"cooldown_seconds": 0})
    clock.advance(-2 * 86400)
    await g.core.jobs.accept(request(1))  # 80, two days ago
    clock.advance(2 * 86400)
    await g.core.jobs.accept(request(2, spec(duration=10)))  # 150 today
    refunded = await g.core.jobs.accept(request(2))
    await g.core.jobs.cancel(GUILD, refunded.job.id, 2)
    stats = await g.stats.stats(GUILD)
    assert len(stats.days) == 30 and stats.days[-1].day == clock().strftime("%Y-%m-%d")
    assert [(d.credits, d.jobs) for d in stats.days if d.credits] == [(80, 1), (150, 1)]
    assert (stats.total, stats.jobs) == (230, 2)
    assert [(m.member_id, m.credits) for m in stats.top] == [(2, 150), (1, 80)]

    png = g.stats.chart(stats)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (WIDTH, HEIGHT) and image.format == "PNG"
        # Bars are drawn in the chart's blue: the two days with spend show up as pixels of it.
        assert (88, 101, 242) in {color for _, color in image.convert("RGB").getcolors(1 << 16) or []}


async def test_an_empty_server_still_gets_a_chart(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock)
    stats = await g.stats.stats(GUILD)
    assert stats.total == 0 and stats.top == []
    assert Image.open(io.BytesIO(g.stats.chart(stats))).size == (WIDTH, HEIGHT)


async def test_csv_rows_are_the_ledger(db: Database, clock: ManualClock) -> None:
    g = build_guarded(db, clock)
    await g.core.jobs.accept(request(1))
    await g.core.credits.grant(GUILD, MemberContext(2), 25, actor_id=9, reason='prize, "quoted"\nline two')
    await g.core.jobs.accept(request(1, guild_id=GUILD + 1))  # another server: not exported
    rows = list(csv.reader(io.StringIO((await g.stats.ledger_csv(GUILD)).decode("utf-8"))))
    entries = await g.core.ledger.entries(GUILD)
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1:] == [list(csv_row(entry)) for entry in entries]
    assert [row[3] for row in rows[1:]] == ["refill", "hold", "refill", "grant"]
    assert rows[-1][7] == 'prize, "quoted"\nline two'
