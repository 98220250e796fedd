"""Shared pieces: a SimCord world with many members, result rows, percentiles, memory readings."""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import simcord

from bot.app import WanBot
from bot.assemble import create_bot
from bot.config import config_from_mapping
from tests.crash.provider_process import API_KEY as API_KEY  # the fake provider's key, for every bench

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    """One line of the table: what was measured, the figure, the target, and how to read it."""

    section: str
    metric: str
    value: str
    target: str = ""
    note: str = ""


def emit(rows: Sequence[Row], argv: Sequence[str] | None = None) -> None:
    """Print rows as JSON lines with ``--json`` (for bench.run), else as a small table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    args, _ = parser.parse_known_args(argv)
    if args.json:
        for row in rows:
            print(json.dumps(asdict(row)))
        return
    print(format_table(rows))


def format_table(rows: Sequence[Row]) -> str:
    header = ("section", "metric", "value", "target", "note")
    cells = [header, *[(r.section, r.metric, r.value, r.target, r.note) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |" for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def max_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class BenchWorld:
    env: simcord.Env
    bot: WanBot
    guild: Any
    channel: Any
    members: list[Any]


@asynccontextmanager
async def bench_world(
    database: Path,
    *,
    members: int,
    provider: dict[str, Any] | None = None,
    settle_timeout: float = 5.0,
    **sections: dict[str, Any],
) -> AsyncIterator[BenchWorld]:
    """The real bot (all cogs, a SQLite file) on SimCord, with ``members`` members in one channel."""
    data: dict[str, Any] = {
        "database": {"path": str(database)},
        "provider": {"kind": "sandbox", "poll_interval_seconds": 2, **(provider or {})},
        **sections,
    }
    bot = create_bot(config_from_mapping(data, environ={}))
    # A settle waits for timers due before its deadline: keep it under aiohttp's 15 s keep-alive.
    async with simcord.run(bot, settle_timeout=settle_timeout, check_errors=False) as env:
        guild = env.create_guild(name="Bench")
        channel = guild.create_text_channel("videos")
        people = [guild.add_member(env.create_user(f"member{index}")) for index in range(members)]
        await bot.tree.sync()
        try:
            yield BenchWorld(env, bot, guild, channel, people)
        finally:
            await bot.close()


def versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ("discord.py", "aiohttp", "aiosqlite", "pydantic", "simcord")
    return {"python": sys.version.split()[0], **{name: version(name) for name in names}}


@contextmanager
def provider_process(root: Path, kind: str = "apimall", *, render_seconds: float = 1e6) -> Iterator[str]:
    """The loopback fake in its own process (so its CPU is not charged to the bot); yields its URL.

    No faults, no failures, no create delay; every task renders for ``render_seconds``.
    """
    root.mkdir(parents=True, exist_ok=True)
    port_file = root / "provider.port"
    command = [sys.executable, "-m", "tests.crash.provider_process", "--kind", kind, "--dir", str(root)]
    command += ["--started", repr(time.time()), "--speed", "1", "--fault-rate", "0", "--fail-rate", "0"]
    command += ["--create-delay", "0", "--render-min", str(render_seconds), "--render-max", str(render_seconds)]
    with (root / "provider.log").open("ab") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fake provider did not start; see {root / 'provider.log'}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}"
    finally:
        process.terminate()
        process.wait(timeout=10)
