"""Several bot processes on one PostgreSQL, SIGKILLed at random; the checks of ``checks`` plus
the ones only several processes can break.

    report = run_multi(MultiConfig(root=tmp_path, dsn=dsn, kills=6))
    assert report.violations == []

Processes: the fake provider (``provider_process``) and the fake Discord REST
(``discord_rest``), never killed; ``processes`` bots (``rest_bot_process``, REST only), one of
which is SIGKILLed and restarted at random moments. The harness itself plays the members: it
accepts jobs straight into the database between kills (acceptance is one transaction, proven
elsewhere; what is at stake here is the work after it). After every kill: the ledger balances
and agrees with every job, no job has two results in the channel or two provider tasks, the
provider never rendered more than ``max_in_flight`` at once, and no job has two live leases.
At the end every bot runs without kills until every job has ended (liveness).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bot.storage.db import Database
from tests.backends import with_search_path
from tests.crash import checks, discord_log
from tests.crash.common import VirtualClock
from tests.crash.rest_bot_process import MAX_IN_FLIGHT
from tests.support import CHANNEL, GUILD, build_core, request, spec

REPO = Path(__file__).resolve().parents[2]
OFFSET = 60.0
MEMBERS = 6
PROMPTS = ("a lighthouse in a storm", "a red fox in snow", "a paper boat on a river", "neon city at night")


@dataclass
class MultiConfig:
    root: Path
    dsn: str  # a PostgreSQL server; the run gets a schema of its own
    kind: str = "apimall"
    processes: int = 3
    kills: int = 6
    seed: int = 0
    speed: float = 20.0
    life: tuple[float, float] = (0.8, 3.0)  # real seconds between kills
    jobs_per_kill: tuple[int, int] = (1, 4)
    drain_timeout: float = 90.0
    render: tuple[float, float] = (20.0, 90.0)


@dataclass
class MultiReport:
    kills: int = 0
    jobs: Counter[str] = field(default_factory=Counter)
    tasks: int = 0
    creates: int = 0
    results_posted: int = 0
    max_rendering: int = 0  # renders at once of tasks some job follows
    max_rendering_with_orphans: int = 0  # the same with tasks no job knows (a lost create answer)
    orphan_tasks: int = 0
    leases_checked: bool = False
    wall_seconds: float = 0.0
    violations: list[str] = field(default_factory=list)


def lease_violations(leases: list[dict[str, Any]], now: float) -> list[str]:
    """No job has two live leases (one row per lease: job id, expiry)."""
    live = Counter(lease["job_id"] for lease in leases if lease["expires_at"] is not None and lease["expires_at"] > now)
    return [f"job {job_id} has {count} live leases" for job_id, count in live.items() if count > 1]


def most_at_once(tasks: list[dict[str, Any]]) -> int:
    """The most provider renders that overlapped in time (each from its create to its render's end)."""
    edges = sorted(
        [(task["created_at"], 1) for task in tasks]
        + [(task["created_at"] + task["render_seconds"], -1) for task in tasks]
    )
    most = current = 0
    for _at, step in edges:  # an end sorts before a start at the same instant (-1 < 1)
        current += step
        most = max(most, current)
    return most


def followed_tasks(snapshot: checks.Snapshot, provider: dict[str, Any]) -> list[dict[str, Any]]:
    """Provider tasks some job follows. The others are orphans: a create whose answer a kill lost
    on a provider without idempotency keys (wan26ai), so no job knows the task (see README)."""
    followed = {job["provider_task_id"] for job in snapshot.jobs if job["provider_task_id"]}
    return [task for task in provider["tasks"] if task["task_id"] in followed]


def rendering_violations(snapshot: checks.Snapshot, provider: dict[str, Any]) -> list[str]:
    most = most_at_once(followed_tasks(snapshot, provider))
    if most > MAX_IN_FLIGHT:
        return [f"jobs had {most} renders at once; limits.max_in_flight is {MAX_IN_FLIGHT} for all processes"]
    return []


class MultiSession:
    def __init__(self, config: MultiConfig) -> None:
        self.config = config
        self.root = config.root
        self.rng = random.Random(config.seed)
        self.started = time.time()
        self.clock = VirtualClock(self.started, config.speed, OFFSET)
        self.report = MultiReport()
        self.schema = f"crash_{uuid.uuid4().hex[:12]}"
        self.url = with_search_path(config.dsn, self.schema)
        self.loop = asyncio.new_event_loop()
        self.db: Database | None = None
        self.servers: list[subprocess.Popen[bytes]] = []
        self.bots: dict[int, subprocess.Popen[bytes]] = {}
        self.runs = 0
        self.provider_url = ""
        self.discord_url = ""
        self.accepted = 0

    # --- set-up ------------------------------------------------------------------------------

    def _spawn(self, module: str, *arguments: str, log: str) -> subprocess.Popen[bytes]:
        with (self.root / log).open("ab") as handle:
            # Only our own interpreter and modules, with arguments built here.
            return subprocess.Popen(
                [sys.executable, "-m", module, *arguments],
                cwd=REPO,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def _port(self, name: str, process: subprocess.Popen[bytes]) -> int:
        path = self.root / name
        deadline = time.monotonic() + 30
        while not path.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} never appeared; see the logs in {self.root}")
            time.sleep(0.05)
        return int(path.read_text().strip())

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.loop.run_until_complete(self._create_schema())
        common = ["--dir", str(self.root), "--started", repr(self.started), "--speed", repr(self.config.speed)]
        provider = self._spawn(
            "tests.crash.provider_process",
            "--kind",
            self.config.kind,
            *common,
            "--seed",
            str(self.config.seed),
            "--render-min",
            str(self.config.render[0]),
            "--render-max",
            str(self.config.render[1]),
            log="provider.log",
        )
        self.servers.append(provider)
        self.provider_url = f"http://127.0.0.1:{self._port('provider.port', provider)}"
        discord_rest = self._spawn(
            "tests.crash.discord_rest",
            "--dir",
            str(self.root),
            "--guild",
            str(GUILD),
            "--channel",
            str(CHANNEL),
            log="discord.log",
        )
        self.servers.append(discord_rest)
        self.discord_url = f"http://127.0.0.1:{self._port('discord.port', discord_rest)}/api/v10"
        # Migrated once here; the bots find it migrated (their own start-up lock is tested elsewhere).
        self.db = self.loop.run_until_complete(Database.open(self.url))
        for slot in range(self.config.processes):
            self.bots[slot] = self.spawn_bot()

    async def _create_schema(self) -> None:
        conn = await asyncpg.connect(self.config.dsn)
        try:
            await conn.execute(f'CREATE SCHEMA "{self.schema}"')
        finally:
            await conn.close()

    def spawn_bot(self) -> subprocess.Popen[bytes]:
        self.runs += 1
        return self._spawn(
            "tests.crash.rest_bot_process",
            "--dir",
            str(self.root),
            "--database",
            self.url,
            "--provider-url",
            self.provider_url,
            "--discord-url",
            self.discord_url,
            "--kind",
            self.config.kind,
            "--started",
            repr(self.started),
            "--speed",
            repr(self.config.speed),
            "--offset",
            repr(OFFSET),
            "--run",
            str(self.runs),
            log="bots-stdio.log",
        )

    # --- members -----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def accept_some(self) -> None:
        assert self.db is not None
        core = build_core(self.db, self._now, allowance=8000, provider=self.config.kind)  # type: ignore[arg-type]

        async def accept(count: int) -> None:
            for _ in range(count):
                self.accepted += 1
                member = self.rng.randrange(1, MEMBERS + 1)
                prompt = f"{self.rng.choice(PROMPTS)} [m{self.accepted}]"
                video = spec(prompt, duration=self.rng.choice([5, 10]), resolution=self.rng.choice(["720p", "1080p"]))
                await core.jobs.accept(request(member, video))

        self.loop.run_until_complete(accept(self.rng.randint(*self.config.jobs_per_kill)))

    # --- kills and checks --------------------------------------------------------------------

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()

    def one_kill(self) -> None:
        self.accept_some()
        time.sleep(self.rng.uniform(*self.config.life))
        slot = self.rng.randrange(self.config.processes)
        victim = self.bots[slot]
        if victim.poll() is not None:
            self.report.violations.append(f"a bot process exited by itself with code {victim.returncode}")
        self.kill(victim)
        self.report.kills += 1
        self.bots[slot] = self.spawn_bot()
        self.check(f"after kill {self.report.kills}")

    def drain(self) -> None:
        deadline = time.monotonic() + self.config.drain_timeout
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if not checks.liveness_violations(self.snapshot()):
                break
        for process in self.bots.values():
            self.kill(process)
        self.check("after the drain")
        self.report.violations += [f"after the drain: {p}" for p in checks.liveness_violations(self.snapshot())]

    def snapshot(self) -> checks.Snapshot:
        jobs, ledger = self.loop.run_until_complete(self._rows())
        return checks.Snapshot(jobs, ledger, discord_log.read(self.root / "discord.jsonl"))

    async def _rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        assert self.db is not None
        jobs = [dict(row.items()) for row in await self.db.fetchall("SELECT * FROM jobs ORDER BY id")]
        ledger = [dict(row.items()) for row in await self.db.fetchall("SELECT * FROM ledger ORDER BY id")]
        return jobs, ledger

    async def _leases(self) -> list[dict[str, Any]] | None:
        """Live-lease rows if this schema has job leases (issue 12 item 3), else None."""
        assert self.db is not None
        table = await self.db.fetchval(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            " AND table_name ~ '(^|_)leases?($|_)' ORDER BY table_name LIMIT 1"
        )
        if table is not None:
            rows = await self.db.fetchall(f'SELECT * FROM "{table}"')
            return [
                {"job_id": row["job_id"], "expires_at": row.get("expires_at", row.get("lease_until"))}
                for row in (dict(row.items()) for row in rows)
            ]
        columns = {
            str(row[0])
            for row in await self.db.fetchall(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND table_name = 'jobs' AND column_name ~ '(^|_)lease'"
            )
        }
        expiry = next((name for name in sorted(columns) if "expire" in name or "until" in name), None)
        if expiry is None:
            return None
        # One lease per job row: two live leases on one job cannot be stored, only checked for shape.
        rows = await self.db.fetchall(f"SELECT id AS job_id, {expiry} AS expires_at FROM jobs")
        return [dict(row.items()) for row in rows]

    def provider_state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.provider_url}/_harness/state", timeout=10) as answer:  # noqa: S310 - loopback
            state: dict[str, Any] = json.load(answer)
        return state

    def check(self, where: str) -> None:
        snapshot = self.snapshot()
        provider = self.provider_state()
        problems = checks.safety_violations(snapshot, provider, self.config.kind)
        problems += rendering_violations(snapshot, provider)
        leases = self.loop.run_until_complete(self._leases())
        if leases is not None:
            self.report.leases_checked = True
            problems += lease_violations(leases, self.clock())
        self.report.violations += [f"{where}: {problem}" for problem in problems]

    def finish(self) -> MultiReport:
        snapshot = self.snapshot()
        provider = self.provider_state()
        report = self.report
        report.jobs = Counter(job["state"] for job in snapshot.jobs)
        report.tasks = len(provider["tasks"])
        report.creates = len(provider["creates"])
        report.max_rendering = most_at_once(followed_tasks(snapshot, provider))
        report.max_rendering_with_orphans = most_at_once(provider["tasks"])
        report.orphan_tasks = len(provider["tasks"]) - len(followed_tasks(snapshot, provider))
        report.results_posted = sum(len(ids) for ids in snapshot.results.values())
        report.wall_seconds = time.time() - self.started
        return report

    def stop(self) -> None:
        for process in self.bots.values():
            self.kill(process)
        for process in self.servers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.kill(process)
        if self.db is not None:
            self.loop.run_until_complete(self.db.close())
        self.loop.run_until_complete(self._drop_schema())
        self.loop.close()

    async def _drop_schema(self) -> None:
        conn = await asyncpg.connect(self.config.dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        finally:
            await conn.close()


def run_multi(config: MultiConfig) -> MultiReport:
    session = MultiSession(config)
    try:
        session.start()
        for _ in range(config.kills):
            session.one_kill()
        session.drain()
        return session.finish()
    finally:
        session.stop()
