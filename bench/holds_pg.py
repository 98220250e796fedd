"""Credit holds per second on PostgreSQL, 1 and 3 real processes, beside SQLite in the same run.

bench.holds's workload (100 members at once, 45 attempts each, every third job got cancelled,
an allowance of 25 jobs kept at once) through the bot's own money path (``JobService.accept``
and ``cancel`` over ``Database.open(url)``, the member and budget locks the PostgreSQL backend
takes). With 3 processes every process runs all 100 members, each a third of the attempts
(15), so the total work is the same as with 1 process and every member is contended across
processes: the per-member lock's worst case. The processes start together (a "go" file) and
the rate is all holds ÷ (last process done − first process started).

The balance check is bench.holds's (``ledger_errors``) over the kept jobs of every process. The
storage work per hold (statements, commits, round trips) is ``Database.stats``, counted by the
backend over the measured window, releases and refusals included.
The server is bench.pg's: fsync and synchronous commit on, unix socket only.

    .venv/bin/python -m bench.holds_pg [--pg-dsn URL]
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import pg
from bench.common import REPO, Row, emit
from bench.holds import ALLOWANCE, ATTEMPTS, MEMBERS, ledger_errors, member
from bench.holds import measure as measure_sqlite
from bot.storage.db import Database
from tests.support import ManualClock, build_core

PROCESS_COUNTS = (1, 3)


@dataclass(frozen=True)
class Outcome:
    seconds: float
    holds: int
    releases: int
    refused: int
    errors: list[str]
    cpu: float  # the bot processes' own CPU seconds, all of them together
    storage: dict[str, int] = field(default_factory=dict)  # Database.stats over the runs, all processes

    @property
    def rate(self) -> float:
        return self.holds / self.seconds if self.seconds > 0 else 0.0

    def per_hold(self) -> str:
        """Counted by the backend (``Database.stats``), releases and refusals included."""
        if not self.holds or not self.storage:
            return "storage work not counted"
        each = {name: value / self.holds for name, value in self.storage.items()}
        return (
            f"per hold: {each['statements']:.1f} statements, {each['commits']:.2f} commits, "
            f"{each['round_trips']:.1f} round trips ({each['units']:.2f} units of work)"
        )


async def work(url: str, folder: Path, name: str, attempts: int, members: list[int]) -> None:
    """One process: each of ``members`` makes ``attempts`` tries at once, after the parent says go."""
    db = await Database.open(url)
    core = build_core(db, ManualClock(), allowance=ALLOWANCE)
    counts: Counter[str] = Counter()
    kept: Counter[int] = Counter()
    unexpected: list[str] = []

    (folder / f"{name}.ready").touch()
    while not (folder / "go").exists():  # noqa: ASYNC110 - a file is the only barrier shared between processes
        await asyncio.sleep(0.005)
    started, cpu, stats = time.time(), time.process_time(), db.stats.copy()
    await asyncio.gather(*(member(core, member_id, attempts, counts, kept, unexpected) for member_id in members))
    ended, cpu = time.time(), time.process_time() - cpu
    storage = {name: value - getattr(stats, name) for name, value in asdict(db.stats).items()}
    await db.close()
    report = {
        "started": started,
        "ended": ended,
        "cpu": cpu,
        "counts": counts,
        "kept": kept,
        "unexpected": unexpected,
        "storage": storage,
    }
    (folder / f"{name}.json").write_text(json.dumps(report))


def run(dsn: str, processes: int, folder: Path, *, split: bool = False) -> Outcome:
    """``split``: each process gets its own third of the members (all their attempts), so no member
    is contended across processes; else every process runs every member for a third of the attempts."""
    url = pg.fresh_schema(dsn)

    async def migrate() -> None:
        await (await Database.open(url)).close()

    asyncio.run(migrate())
    folder.mkdir()
    names = [f"p{index}" for index in range(processes)]
    everyone = [10_000 + index for index in range(MEMBERS)]
    attempts = str(ATTEMPTS if split else ATTEMPTS // processes)
    shares = [everyone[index::processes] if split else everyone for index in range(processes)]
    children = [
        subprocess.Popen(  # noqa: S603
            [
                *[sys.executable, "-m", "bench.holds_pg", "--worker", url, str(folder), name, attempts],
                ",".join(map(str, share)),
            ],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, share in zip(names, shares, strict=True)
    ]
    deadline = time.monotonic() + 60
    while not all((folder / f"{name}.ready").exists() for name in names):
        if any(child.poll() is not None for child in children) or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    (folder / "go").touch()
    failures = []
    for child in children:
        _, stderr = child.communicate(timeout=300)
        if child.returncode != 0:
            failures.append(f"a process exited {child.returncode}: {stderr.strip().splitlines()[-1:]}")
    if failures:
        return Outcome(0.0, 0, 0, 0, failures, 0.0)
    reports = [json.loads((folder / f"{name}.json").read_text()) for name in names]
    counts: Counter[str] = Counter()
    kept: Counter[int] = Counter()
    storage: Counter[str] = Counter()
    for report in reports:
        counts.update(report["counts"])
        storage.update(report["storage"])
        kept.update({int(member): value for member, value in report["kept"].items()})
    seconds = max(r["ended"] for r in reports) - min(r["started"] for r in reports)

    async def check() -> list[str]:
        db = await Database.open(url)
        try:
            return await ledger_errors(db, kept)
        finally:
            await db.close()

    errors = [error for report in reports for error in report["unexpected"]] + asyncio.run(check())
    return Outcome(
        seconds,
        counts["holds"],
        counts["releases"],
        counts["refused"],
        errors,
        sum(r["cpu"] for r in reports),
        dict(storage),
    )


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        url, folder, name, attempts, members = sys.argv[2:7]
        asyncio.run(work(url, Path(folder), name, int(attempts), [int(m) for m in members.split(",")]))
        return
    if reason := pg.available():
        emit([Row("credits-pg", "SKIPPED", "", "", reason)])
        return
    with tempfile.TemporaryDirectory(prefix="bench-holds-pg-", dir=Path.cwd()) as folder:
        sqlite = asyncio.run(measure_sqlite(Path(folder) / "wanbot.sqlite3"))
        sqlite_rate = int(sqlite["holds"]) / float(sqlite["seconds"])  # type: ignore[call-overload, arg-type]
        with pg.server() as dsn:
            note = pg.settings_note(dsn)
            results = {f"{n}": run(dsn, n, Path(folder) / f"pg-{n}") for n in PROCESS_COUNTS}
            results["3 split"] = run(dsn, 3, Path(folder) / "pg-3-split", split=True)
    sqlite_errors: list[str] = sqlite["errors"]  # type: ignore[assignment]
    rows = [
        Row(
            "credits-pg",
            f"SQLite, same run: credit holds per second, {MEMBERS} members at once",
            f"{sqlite_rate:.0f} /s",
            "",
            f"bench.holds's workload, one process, every commit fsync'd; balance errors {len(sqlite_errors)}",
        ),
        Row("credits-pg", "PostgreSQL server", "", "", note),
    ]
    labels = {
        "1": "1 process",
        "3": "3 processes, every member in all 3",
        "3 split": "3 processes, members split between them",
    }
    for key, r in results.items():
        rows.append(
            Row(
                "credits-pg",
                f"PostgreSQL, {labels[key]}: credit holds per second",
                f"{r.rate:.0f} /s ({r.rate / sqlite_rate:.2f} × SQLite)",
                "≥ 1,500 /s" if key == "3" else "",
                f"{r.holds} holds, {r.releases} releases, {r.refused} refusals in {r.seconds:.2f} s "
                f"(bot CPU {r.cpu:.2f} s, {r.cpu / max(r.holds, 1) * 1000:.2f} ms per hold); {r.per_hold()}; "
                f"{len(r.errors)} balance errors" + (f": {'; '.join(r.errors[:3])}" if r.errors else ""),
            )
        )
    total_errors = sum(len(r.errors) for r in results.values())
    rows.append(
        Row(
            "credits-pg",
            "PostgreSQL: balance errors after the runs",
            str(total_errors),
            "0",
            "every member: available = allowance − kept, held = kept, none negative; one hold per job",
        )
    )
    emit(rows)


if __name__ == "__main__":
    main()
