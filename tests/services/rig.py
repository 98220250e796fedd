"""The job runner wired as the bot wires it, minus Discord: for chaos and fuzz tests of the loop.

Real SQLite file, real provider adapter and aiohttp session, the loopback fake of the
provider, and a Discord side that only records what it was asked to post. Time is a manual
clock shared by the bot and the fake, so a test decides when renders finish.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import Config, config_from_mapping
from bot.domain.models import Job, LedgerKind
from bot.providers.factory import build_provider
from bot.services.container import Services, Storage, build_services, open_storage
from bot.services.credits import MemberContext
from bot.services.events import Delivered
from bot.services.jobs import JobRequest
from bot.storage.db import Database
from tests.backends import database_section
from tests.fakes import FakeProviderServer
from tests.fakes.apimall_server import FakeApimall
from tests.fakes.wan26ai_server import FakeWan26ai
from tests.support import CHANNEL, GUILD, ManualClock, spec

API_KEY = "sk-rig-0123456789abcdef"


def settled(job: Job) -> bool:
    """Nothing left to do: delivered, or released and the member told."""
    return job.state.value == "delivered" or (job.state.is_released and job.notified)


@dataclass
class RecordingEvents:
    """Stands in for the Discord adapter: every post succeeds and is remembered."""

    delivered: Counter[int] = field(default_factory=Counter)
    told: Counter[int] = field(default_factory=Counter)

    async def progress(self, job: Job) -> None:
        return None

    async def deliver(self, job: Job) -> Delivered:
        self.delivered[job.id] += 1
        return Delivered(message_id=10_000 + job.id, as_link=False)

    async def find_delivery(self, job: Job) -> int | None:
        return 10_000 + job.id if self.delivered[job.id] else None

    async def ended(self, job: Job) -> None:
        self.told[job.id] += 1

    async def find_notice(self, job: Job) -> int | None:
        return 20_000 + job.id if self.told[job.id] else None


@dataclass
class Rig:
    db: Database
    clock: ManualClock
    server: FakeProviderServer
    services: Services
    events: RecordingEvents
    config: Config

    @property
    def storage(self) -> Storage:
        return open_storage(self.db)

    async def accept(self, member_id: int, prompt: str = "a lighthouse in a storm") -> Job:
        request = JobRequest(guild_id=GUILD, channel_id=CHANNEL, member=MemberContext(member_id), spec=spec(prompt))
        return (await self.services.jobs.accept(request)).job

    async def run(self, seconds: float, step: float = 2.0) -> None:
        """Tick every ``step`` seconds of manual time; a tick never raises."""
        elapsed = 0.0
        while elapsed < seconds:
            self.clock.advance(step)
            elapsed += step
            await self.services.runner.tick()

    async def jobs(self) -> list[Job]:
        rows = await self.db.fetchall("SELECT id FROM jobs ORDER BY id")
        found = [await self.storage.job_repo.get(row["id"]) for row in rows]
        return [job for job in found if job is not None]

    async def money_problems(self) -> list[str]:
        """Every job holds its price once and ends it at most once, as its state says."""
        problems = []
        for job in await self.jobs():
            entries = [e for e in await self.storage.ledger.entries(GUILD) if e.job_id == job.id]
            kinds = Counter(entry.kind for entry in entries)
            if kinds[LedgerKind.HOLD] != 1:
                problems.append(f"job {job.id}: {kinds[LedgerKind.HOLD]} holds")
            ends = kinds[LedgerKind.SETTLE] + kinds[LedgerKind.RELEASE]
            expected = (1, 0) if job.state.value == "delivered" else (0, 1) if job.state.is_released else (0, 0)
            if (kinds[LedgerKind.SETTLE], kinds[LedgerKind.RELEASE]) != expected or ends > 1:
                problems.append(f"job {job.id} is {job.state.value}; ledger {dict(kinds)}")
        return problems


@asynccontextmanager
async def open_rig(
    tmp_path: Path, kind: str = "apimall", *, events: RecordingEvents | None = None, **provider: Any
) -> AsyncIterator[Rig]:
    clock = ManualClock()
    fake_type = {"apimall": FakeApimall, "wan26ai": FakeWan26ai}[kind]
    server = fake_type(api_key=API_KEY, clock=lambda: clock().timestamp(), render_seconds=40)
    await server.start()
    config = config_from_mapping(
        {
            "database": database_section(tmp_path),
            "provider": {"kind": kind, "base_url": server.base_url, "api_key": API_KEY, **provider},
            # The runner is under test, not the guardrails: nothing refuses or queues the rig's jobs.
            "credits": {"confirm_above": 100_000},
            "limits": {"cooldown_seconds": 0, "max_running_per_member": 100, "max_in_flight": 1000},
        },
        environ={},
    )
    db = await Database.open(config.database.target)
    try:
        async with aiohttp.ClientSession() as session:
            adapter = build_provider(config.provider, session, clock)
            events = events or RecordingEvents()
            services = build_services(
                config=config, db=db, session=session, provider=adapter, clock=clock, events=events
            )
            yield Rig(db, clock, server, services, events, config)
    finally:
        await db.close()
        await server.stop()
