"""Small helpers shared by tests: a clock tests can move, and service wiring on a real SQLite file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.config import PriceTable
from bot.domain.models import Mode, VideoSpec
from bot.services.credits import CreditService, FixedAllowancePolicy, MemberContext
from bot.services.jobs import JobRequest, JobService
from bot.storage.db import Database
from bot.storage.jobs import JobRepository
from bot.storage.ledger import LedgerRepository

GUILD = 1000
CHANNEL = 2000


class ManualClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Core:
    db: Database
    clock: ManualClock
    ledger: LedgerRepository
    job_repo: JobRepository
    credits: CreditService
    jobs: JobService


def build_core(db: Database, clock: ManualClock, *, allowance: int = 500, provider: str = "sandbox") -> Core:
    ledger = LedgerRepository(db)
    job_repo = JobRepository(db)
    credits = CreditService(db, ledger, FixedAllowancePolicy(allowance, "weekly"), clock)
    jobs = JobService(db=db, jobs=job_repo, credits=credits, prices=PriceTable(), provider_name=provider, clock=clock)
    return Core(db, clock, ledger, job_repo, credits, jobs)


def spec(prompt: str = "a cat surfing a wave", *, duration: int = 5, resolution: str = "720p") -> VideoSpec:
    return VideoSpec(mode=Mode.TEXT_TO_VIDEO, prompt=prompt, duration=duration, resolution=resolution)  # type: ignore[arg-type]


def request(member_id: int, video: VideoSpec | None = None, guild_id: int = GUILD) -> JobRequest:
    return JobRequest(guild_id=guild_id, channel_id=CHANNEL, member=MemberContext(member_id), spec=video or spec())
