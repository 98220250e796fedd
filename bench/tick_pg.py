"""Tick cost at 10,000 jobs in flight on PostgreSQL, beside SQLite in the same run.

bench.tick's measure, unchanged, twice in one process against one loopback fake provider: first
on a SQLite file, then on a fresh schema of bench.pg's server (fsync and synchronous commit on,
unix socket only). Only the tick rows are compared; bench.tick's memory rows would mix the two
backends in one process.

    .venv/bin/python -m bench.tick_pg [--pg-dsn URL]
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench import pg
from bench.common import Row, emit, provider_process
from bench.tick import REPEATS, Own, measure, own_time_per_job, storage_per_job


def main() -> None:
    if reason := pg.available():
        emit([Row("tick-pg", "SKIPPED", "", "", reason)])
        return
    with tempfile.TemporaryDirectory(prefix="bench-tick-pg-", dir=Path.cwd()) as folder:
        root = Path(folder)
        with provider_process(root / "provider") as base_url, pg.server() as dsn:
            note = pg.settings_note(dsn)
            url = pg.fresh_schema(dsn)
            (root / "sqlite").mkdir()
            sqlite = asyncio.run(measure(root / "sqlite", base_url, memory=False))
            postgres = asyncio.run(measure(root / "postgres", base_url, url, memory=False))

    def ms(r: dict[str, Any], key: str) -> float:
        return float(statistics.median(r[key])) * 1000

    def both(key: str) -> str:
        return f"{ms(sqlite, key):.1f} / {ms(postgres, key):.1f} ms"

    batch = postgres["batch"]
    rows = [
        Row("tick-pg", "PostgreSQL server", "", "", f"{note}; values are SQLite / PostgreSQL, same run"),
        Row("tick-pg", "one tick, 10 due of 1,000 in flight", both("1k/10"), "", f"median of {REPEATS} ticks"),
        Row("tick-pg", "one tick, 0 due of 10,000 in flight (idle)", both("10k/0"), "", "the due scan alone"),
        Row("tick-pg", "one tick, 10 due of 10,000 in flight", both("10k/10"), "grows with due, not all", ""),
        Row(
            "tick-pg",
            f"one tick, 1,000 due of 10,000 (batch {batch}, default)",
            both("10k/1000/default"),
            "",
            f"handles {min(1000, batch)}; the rest next tick; {postgres['concurrency']} status checks at once",
        ),
        Row(
            "tick-pg",
            "one tick, 1,000 due of 10,000 (batch 1,000)",
            both("10k/1000/1000"),
            "",
            f"{ms(sqlite, '10k/1000/1000') / 1000:.2f} / {ms(postgres, '10k/1000/1000') / 1000:.2f} ms per due job:"
            f" status request + transition + commit; {postgres['in_flight']:,} rendering on PostgreSQL",
        ),
    ]
    own_sqlite: Own = sqlite["own"]
    own_postgres: Own = postgres["own"]
    sqlite_total = own_time_per_job(own_sqlite)[2]
    postgres_loop = own_time_per_job(own_postgres)[0]
    rows += [
        Row(
            "tick-pg",
            "1,000 due: bot's own time per due job (fake provider excluded)",
            f"{sqlite_total:.2f} / {postgres_loop:.2f} ms",
            "≤ 0.5 ms",
            "SQLite: event loop thread CPU + SQLite thread busy (bench.tick); PostgreSQL: event loop thread CPU"
            " only (the server is another process, like the fake provider)",
        ),
        Row(
            "tick-pg",
            "1,000 due: storage work per due job (counted), PostgreSQL",
            storage_per_job(own_postgres)
            if own_postgres.storage.round_trips
            else f"{own_postgres.storage.units / max(1, own_postgres.ticks * 1000):.2f} units of work",
            "",
            "Database.stats ÷ due jobs; the PostgreSQL backend counts units only (no statements,"
            " commits or round trips), so SQLite's figures are in bench.tick",
        ),
    ]
    emit(rows)


if __name__ == "__main__":
    main()
