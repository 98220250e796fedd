"""Small helpers shared by tests: a clock tests can move, and service wiring on a real SQLite file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import Config, PriceTable, config_from_mapping
from bot.domain.models import Mode, VideoSpec
from bot.services.admin import AdminService
from bot.services.allowances import GuildAllowancePolicy
from bot.services.budget import BudgetGuard
from bot.services.credits import CreditService, FixedAllowancePolicy, MemberContext
from bot.services.jobs import JobRequest, JobService
from bot.services.limits import ChannelCheck, FairnessGuard
from bot.services.notices import AdminNotices
from bot.services.stats import StatsService
from bot.storage.audit import AuditRepository
from bot.storage.db import Database
from bot.storage.jobs import JobRepository
from bot.storage.ledger import LedgerRepository
from bot.storage.settings import SettingsRepository
from bot.storage.spend import SpendRepository

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


def request(
    member_id: int | MemberContext, video: VideoSpec | None = None, guild_id: int = GUILD, channel_id: int = CHANNEL
) -> JobRequest:
    member = member_id if isinstance(member_id, MemberContext) else MemberContext(member_id)
    return JobRequest(guild_id=guild_id, channel_id=channel_id, member=member, spec=video or spec())


class RecordingSink:
    """Admin notices as posted messages; ``fail`` makes the next sends fail like a missing permission."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, int, str]] = []
        self.fail = False

    async def send(self, guild_id: int, channel_id: int, text: str) -> bool:
        if self.fail:
            return False
        self.sent.append((guild_id, channel_id, text))
        return True


@dataclass
class Guarded:
    """The acceptance path as the bot wires it: the server's policy, fairness limits, budgets, notices."""

    core: Core
    config: Config
    settings: SettingsRepository
    admin: AdminService
    notices: AdminNotices
    sink: RecordingSink
    stats: StatsService


def build_guarded(db: Database, clock: ManualClock, **sections: dict[str, Any]) -> Guarded:
    config = config_from_mapping(sections, environ={})
    ledger = LedgerRepository(db)
    job_repo = JobRepository(db)
    settings = SettingsRepository(db)
    spend = SpendRepository(db)
    policy = GuildAllowancePolicy(settings, config.credits)
    credits = CreditService(db, ledger, policy, clock)
    jobs = JobService(
        db=db, jobs=job_repo, credits=credits, prices=config.credits.prices, provider_name="sandbox", clock=clock
    )
    sink = RecordingSink()
    notices = AdminNotices(settings, clock, sink)
    budget = BudgetGuard(settings, spend, config.budget)
    jobs.request_checks.append(ChannelCheck(settings))
    jobs.hold_guards.extend([FairnessGuard(job_repo, config.limits), budget])
    jobs.refusal_listeners.append(notices)
    return Guarded(
        core=Core(db, clock, ledger, job_repo, credits, jobs),
        config=config,
        settings=settings,
        admin=AdminService(db, settings, policy, budget, clock, AuditRepository(db)),
        notices=notices,
        sink=sink,
        stats=StatsService(ledger, spend, clock),
    )
