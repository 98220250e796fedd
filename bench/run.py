"""Run every benchmark and print one table, with the machine, the versions and the date.

    .venv/bin/python -m bench.run            # everything, about 15 minutes (the crash run is most of it)
    .venv/bin/python -m bench.run --quick    # a 20-kill crash run instead of 200
    .venv/bin/python -m bench.run --only ack,tick
    .venv/bin/python -m bench.run --only holds_pg,tick_pg --pg-dsn postgresql://...

The PostgreSQL sections (``holds_pg``, ``tick_pg``) use ``--pg-dsn`` or ``WANBOT_TEST_PG_DSN``, else
start a throwaway cluster of their own (bench.pg); with no PostgreSQL at all each prints one
SKIPPED row.

Each section runs as ``python -m bench.<section> --json`` in a process of its own, so memory
figures and event loops never carry over from one section to the next.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import REPO, Row, format_table, versions

SECTIONS: dict[str, list[str]] = {
    "ack": [],
    "polling": [],
    "tick": [],
    "delivery": [],
    "holds": [],
    "holds_pg": [],
    "tick_pg": [],
    "crash": ["--kills", "200"],
}


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory_kib / 1_048_576:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}; load average at start {load}"
    )


def run_section(name: str, extra: list[str]) -> tuple[list[Row], float]:
    started = time.monotonic()
    command = [sys.executable, "-m", f"bench.{name}", "--json", *extra]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)  # noqa: S603
    rows = []
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            rows.append(Row(**json.loads(line)))
    if done.returncode != 0 or not rows:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        rows.append(Row(name, "FAILED", f"exit {done.returncode}", "", tail[0][:200]))
    return rows, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="comma-separated sections: " + ", ".join(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="a 20-kill crash run instead of 200")
    parser.add_argument("--pg-dsn", help="a PostgreSQL server for holds_pg and tick_pg (else they start one)")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    header = [
        f"date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"machine: {machine()}",
        "versions: " + ", ".join(f"{name} {value}" for name, value in versions().items()),
        f"commit: {_commit()}",
    ]
    print("\n".join(header), flush=True)
    rows: list[Row] = []
    for name in chosen:
        extra = ["--kills", "20"] if name == "crash" and args.quick else SECTIONS[name]
        if name.endswith("_pg") and args.pg_dsn:
            extra = [*extra, "--pg-dsn", args.pg_dsn]
        section_rows, seconds = run_section(name, extra)
        rows += section_rows
        print(f"  {name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    print()
    print(format_table(rows))


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)  # noqa: S607
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True)  # noqa: S607
    return done.stdout.strip() + (" (with local changes)" if dirty.stdout.strip() else "")


if __name__ == "__main__":
    main()
