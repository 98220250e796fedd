"""Cost of one loop tick with 10,000 jobs in flight, and the memory that takes.

Besides the wall time, the 1,000-due tick reports the bot's own time with the fake provider's
excluded (the fake runs in its own process, so none of its CPU is counted): the event loop
thread's CPU time (``time.thread_time``: the runner, aiohttp's client side, the repositories) plus
the time SQLite's thread spent running the bot's calls (wall clock, so fsyncs are in it), and the
storage work per due job counted by ``Database.stats``.

The job runner as the bot builds it (``build_services``: real SQLite file, real apimall
adapter, real aiohttp session), against the loopback fake in its own process so the fake's
CPU is not counted. The Discord side is a stub (no progress messages: none of these jobs has
one), so this is the runner's own cost: the due-job scan plus one status check, one state
transition and one commit per due job.

Jobs are written straight into the tables (job rows, holds and the grants that pay for them)
because accepting 10,000 through ``/video`` would only measure acceptance again. All are
submitted and rendering; the ones "due" have a real task at the fake and ``next_check_at``
in the past, the others are due hours from now.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import API_KEY, Row, current_rss_mb, emit, max_rss_mb, provider_process
from bot.config import config_from_mapping
from bot.domain.clock import to_ts
from bot.domain.models import Job, LedgerKind, Mode, VideoSpec
from bot.providers.base import SubmitRequest
from bot.providers.factory import build_provider
from bot.services.container import Storage, build_services, open_storage
from bot.services.credits import CreditService
from bot.services.events import Delivered
from bot.services.jobs import new_idempotency_key
from bot.services.runner import JobRunner
from bot.storage.db import Database, StorageStats
from bot.storage.jobs import JobRepository, NewJob
from bot.storage.ledger import LedgerRepository
from tests.support import ManualClock

GUILD, CHANNEL = 1000, 2000
JOBS_PER_MEMBER = 10
SPEC = VideoSpec(mode=Mode.TEXT_TO_VIDEO, prompt="a lighthouse in a storm", duration=5, resolution="720p")
REPEATS = 5


class QuietEvents:
    """The runner's Discord side, doing nothing: these jobs never get as far as posting."""

    async def progress(self, job: Job, *, queue_position: int | None = None) -> None:
        return None

    async def deliver(self, job: Job) -> Delivered:
        raise AssertionError("no job reaches delivery in this bench")

    async def find_delivery(self, job: Job) -> int | None:
        return None

    async def ended(self, job: Job) -> None:
        return None

    async def find_notice(self, job: Job) -> int | None:
        return None


@dataclass(frozen=True, slots=True)
class Parts:
    """The runner as the bot builds it, and the repositories the benchmark seeds through."""

    runner: JobRunner
    storage: Storage
    credits: CreditService

    @property
    def job_repo(self) -> JobRepository:
        return self.storage.job_repo

    @property
    def ledger(self) -> LedgerRepository:
        return self.storage.ledger

    @property
    def db(self) -> Database:
        return self.storage.db


async def seed(services: Parts, clock: ManualClock, first_id: int, count: int) -> None:
    """``count`` rendering jobs, due in an hour, with their holds and the grants behind them."""
    now = clock()
    later = now + timedelta(hours=1)
    repo, ledger = services.job_repo, services.ledger
    for start in range(0, count, 1000):
        async with services.db.transaction() as tx:
            for index in range(first_id + start, first_id + min(count, start + 1000)):
                member = 10_000 + index // JOBS_PER_MEMBER
                if index % JOBS_PER_MEMBER == 0:
                    await ledger.append(tx, guild_id=GUILD, member_id=member, kind=LedgerKind.GRANT, amount=800, at=now)
                job_id = await repo.insert_new_in(
                    tx,
                    NewJob(
                        guild_id=GUILD,
                        channel_id=CHANNEL,
                        member_id=member,
                        spec=SPEC,
                        price=80,
                        provider="apimall",
                        idempotency_key=new_idempotency_key(),
                        accepted_at=now - timedelta(seconds=90),
                        next_check_at=later,
                    ),
                )
                await services.credits.hold_in(
                    tx, guild_id=GUILD, member_id=member, job_id=job_id, amount=80, at=now - timedelta(seconds=90)
                )
            await tx.execute(
                "UPDATE jobs SET state = 'rendering', provider_task_id = 'seed-' || id, submitted_at = ?"
                " WHERE state = 'accepted'",
                (to_ts(now - timedelta(seconds=80)),),
            )


async def make_due(services: Parts, clock: ManualClock, count: int, tasks: list[str]) -> list[int]:
    """Point ``count`` jobs at real tasks of the fake and make them due now."""
    rows = await services.db.fetchall("SELECT id FROM jobs ORDER BY id LIMIT ?", (count,))
    ids = [row["id"] for row in rows]
    async with services.db.transaction() as tx:
        for job_id, task_id in zip(ids, tasks, strict=False):
            await tx.execute(
                "UPDATE jobs SET provider_task_id = ?, next_check_at = ? WHERE id = ?",
                (task_id, to_ts(clock() - timedelta(seconds=1)), job_id),
            )
    return ids


class StorageThreadTimer:
    """Wall time SQLite's thread spends running the bot's calls (statements, commits and their
    fsyncs); nothing on PostgreSQL, whose server is another process."""

    def __init__(self, db: Database) -> None:
        self.busy = 0.0
        self.cpu = 0.0  # of which running (not waiting for the disk)
        conn = getattr(db, "_conn", None)
        queue_call = getattr(conn, "_execute", None)
        if conn is None or queue_call is None:
            return
        timer = self

        async def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            def run() -> Any:
                started, cpu = time.perf_counter(), time.thread_time()
                try:
                    return fn(*args, **kwargs)
                finally:
                    timer.busy += time.perf_counter() - started
                    timer.cpu += time.thread_time() - cpu

            return await queue_call(run)

        conn._execute = timed


@dataclass(slots=True)
class Own:
    """The bot's own time in each timed tick, and the storage work of all of them."""

    loop_cpu: list[float] = field(default_factory=list)
    storage_thread: list[float] = field(default_factory=list)
    storage_cpu: list[float] = field(default_factory=list)
    storage: StorageStats = field(default_factory=StorageStats)
    ticks: int = 0
    thread: StorageThreadTimer | None = None


async def time_ticks(
    services: Parts, clock: ManualClock, ids: list[int], expected: int, own: Own | None = None
) -> list[float]:
    """Tick ``REPEATS`` times, making the same jobs due again before each."""
    seconds = []
    for _ in range(REPEATS):
        async with services.db.transaction() as tx:
            for job_id in ids:
                await tx.execute(
                    "UPDATE jobs SET next_check_at = ? WHERE id = ?", (to_ts(clock() - timedelta(seconds=1)), job_id)
                )
        before = services.db.stats.copy()
        thread = own.thread if own is not None else None
        busy_before, thread_cpu_before = (thread.busy, thread.cpu) if thread is not None else (0.0, 0.0)
        cpu_before = time.thread_time()
        started = time.perf_counter()
        report = await services.runner.tick()
        seconds.append(time.perf_counter() - started)
        if own is not None:
            own.loop_cpu.append(time.thread_time() - cpu_before)
            own.storage_thread.append((thread.busy if thread is not None else 0.0) - busy_before)
            own.storage_cpu.append((thread.cpu if thread is not None else 0.0) - thread_cpu_before)
            after = services.db.stats
            own.storage.statements += after.statements - before.statements
            own.storage.commits += after.commits - before.commits
            own.storage.round_trips += after.round_trips - before.round_trips
            own.storage.units += after.units - before.units
            own.ticks += 1
        assert report.checked == expected and report.errors == 0, report
        # Everything just checked was pushed into the future; put the rest back out of the way too.
        async with services.db.transaction() as tx:
            await tx.execute(
                "UPDATE jobs SET next_check_at = ? WHERE next_check_at <= ?",
                (to_ts(clock() + timedelta(hours=1)), to_ts(clock())),
            )
    return seconds


async def measure(root: Path, base_url: str, database: str | None = None, *, memory: bool = True) -> dict[str, Any]:
    """``database``: a PostgreSQL URL (bench.tick_pg); by default a SQLite file under ``root``.
    ``memory``: also trace a 1,000-due tick's allocations (bench.tick_pg compares ticks only)."""
    clock = ManualClock()
    section = {"url": database} if database else {"path": str(root / "wanbot.sqlite3")}
    config = config_from_mapping(
        {
            "database": section,
            "provider": {"kind": "apimall", "base_url": base_url, "api_key": API_KEY},
        },
        environ={},
    )
    db = await Database.open(config.database.target)
    try:
        results: dict[str, Any] = {}
        async with aiohttp.ClientSession() as session:
            provider = build_provider(config.provider, session, clock)
            storage = open_storage(db)
            built = build_services(
                config=config,
                db=db,
                session=session,
                provider=provider,
                clock=clock,
                events=QuietEvents(),
                storage=storage,
            )
            services = Parts(built.runner, storage, built.credits)
            runner = services.runner
            # The bot leaves steps slower than this running past the tick; here a tick is timed to its end.
            runner.settings.step_wait_seconds = 600
            limit = asyncio.Semaphore(16)

            async def create() -> str:
                async with limit:
                    result = await provider.submit(SubmitRequest(spec=SPEC, idempotency_key=new_idempotency_key()))
                    return result.task_id

            tasks = list(await asyncio.gather(*(create() for _ in range(1000))))
            await seed(services, clock, 1, 1_000)
            ids = await make_due(services, clock, 10, tasks)
            results["1k/10"] = await time_ticks(services, clock, ids, 10)
            await seed(services, clock, 1_001, 9_000)
            results["10k/0"] = await time_ticks(services, clock, [], 0)
            results["10k/10"] = await time_ticks(services, clock, ids, 10)
            ids = await make_due(services, clock, 1000, tasks)
            batch = runner.settings.batch_size
            results["10k/1000/default"] = await time_ticks(services, clock, ids, min(1000, batch))
            runner.settings.batch_size = 1000
            own = Own(thread=StorageThreadTimer(db))
            results["10k/1000/1000"] = await time_ticks(services, clock, ids, 1000, own)
            results["own"] = own
            results["batch"] = batch
            results["concurrency"] = runner.settings.concurrency
            in_flight = await db.fetchval("SELECT COUNT(*) FROM jobs WHERE state = 'rendering'")
            results["in_flight"] = int(in_flight)

            if not memory:
                return results
            # Memory: what a 1,000-due tick allocates on top of the running bot, and the process as a whole.
            tracemalloc.start()
            tracemalloc.reset_peak()
            await time_ticks(services, clock, ids, 1000)
            results["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1_048_576
            tracemalloc.stop()
            results["rss_mb"] = current_rss_mb()
            results["max_rss_mb"] = max_rss_mb()
    finally:
        await db.close()  # aiosqlite's thread would keep a failed run's process alive
    return results


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-tick-", dir=Path.cwd()) as folder:
        root = Path(folder)
        with provider_process(root / "provider") as base_url:
            r = asyncio.run(measure(root, base_url))
        r["db_mb"] = (root / "wanbot.sqlite3").stat().st_size / 1_048_576

    def ms(key: str) -> str:
        values = r[key]
        return f"{statistics.median(values) * 1000:.1f} ms"

    per_job = statistics.median(r["10k/1000/1000"]) / 1000 * 1000
    own: Own = r["own"]
    rows = [
        Row("tick", "one tick, 10 due of 1,000 in flight", ms("1k/10"), "", f"median of {REPEATS} ticks"),
        Row("tick", "one tick, 0 due of 10,000 in flight", ms("10k/0"), "", "the due scan alone (index range read)"),
        Row("tick", "one tick, 10 due of 10,000 in flight", ms("10k/10"), "grows with due, not all", "same as 1,000"),
        Row(
            "tick",
            f"one tick, 1,000 due of 10,000 (batch {r['batch']}, default)",
            ms("10k/1000/default"),
            "",
            f"handles {min(1000, r['batch'])}; the rest next tick; {r['concurrency']} status checks at once",
        ),
        Row(
            "tick",
            "one tick, 1,000 due of 10,000 (batch 1,000)",
            ms("10k/1000/1000"),
            "",
            f"{per_job:.2f} ms per due job: status request + transition + commit",
        ),
        *own_rows("tick", own),
        Row(
            "memory",
            f"process RSS with {r['in_flight']:,} jobs in flight",
            f"{r['rss_mb']:.0f} MB (peak {r['max_rss_mb']:.0f} MB)",
            "",
            f"whole process: Python, aiohttp, SQLite cache; the database file is {r['db_mb']:.1f} MB",
        ),
        Row(
            "memory",
            "allocated by one 1,000-due tick (tracemalloc peak)",
            f"{r['traced_peak_mb']:.1f} MB",
            "",
            "jobs live in SQLite; a tick holds only its batch",
        ),
    ]
    emit(rows)


def own_time_per_job(own: Own, jobs: int = 1000) -> tuple[float, float, float, float]:
    """Median over the timed ticks, in ms per due job: loop CPU, storage thread busy, their sum,
    and the sum with the storage thread's CPU instead of its busy time (disk waits left out)."""

    def per_job(values: list[float]) -> float:
        return statistics.median(values) / jobs * 1000

    loop, thread = per_job(own.loop_cpu), per_job(own.storage_thread)
    total = per_job([a + b for a, b in zip(own.loop_cpu, own.storage_thread, strict=True)])
    cpu = per_job([a + b for a, b in zip(own.loop_cpu, own.storage_cpu, strict=True)])
    return loop, thread, total, cpu


def storage_per_job(own: Own, jobs: int = 1000) -> str:
    n = max(1, own.ticks * jobs)
    s = own.storage
    return (
        f"{s.statements / n:.1f} statements, {s.commits / n:.3f} commits, {s.round_trips / n:.2f} round trips"
        f" ({s.units / n:.2f} units of work)"
    )


def own_rows(section: str, own: Own) -> list[Row]:
    loop, thread, total, cpu = own_time_per_job(own)
    return [
        Row(
            section,
            "1,000 due: bot's own time per due job (fake provider excluded)",
            f"{total:.2f} ms",
            "≤ 0.5 ms",
            f"event loop thread CPU {loop:.2f} ms (runner, aiohttp client, repositories; waits for the"
            f" provider's answers not counted) + SQLite thread busy {thread:.2f} ms (its statements,"
            " commits and fsyncs, wall clock); the fake runs in its own process",
        ),
        Row(
            section,
            "1,000 due: bot's CPU time per due job (fake provider excluded)",
            f"{cpu:.2f} ms",
            "",
            "the same without the disk waits: event loop thread CPU + SQLite thread CPU",
        ),
        Row(
            section,
            "1,000 due: storage work per due job (counted)",
            storage_per_job(own),
            "",
            f"Database.stats over {own.ticks} ticks ÷ due jobs: due scan, claim, lease checks, transitions",
        ),
    ]


if __name__ == "__main__":
    main()
