"""Wires the services together. Built once by ``bot.assemble`` from opened resources.

``Services`` holds services only: the repositories (``Storage``) stay with the builder, which
also hands them to the ops objects (``bot.assemble.build_ops``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import aiohttp

from bot.config import Config
from bot.domain.clock import Clock
from bot.domain.models import Job
from bot.domain.rules import RuleSet
from bot.domain.schedule import CALLBACK_FALLBACK_STRETCH
from bot.domain.validation import MediaLimits
from bot.providers.base import Provider, ProviderInfo
from bot.services.admin import AdminService
from bot.services.allowances import GuildAllowancePolicy
from bot.services.budget import BudgetGuard
from bot.services.channel_health import ChannelHealth
from bot.services.credits import CreditService
from bot.services.events import JobEvents
from bot.services.fetch import ResultFetcher
from bot.services.jobs import JobService
from bot.services.limits import ChannelCheck, FairnessGuard
from bot.services.lookup import JobLookup
from bot.services.moderation import ModerationService
from bot.services.notices import AdminNotices, NoticeSink
from bot.services.prompt_rules import BlockCheck, PromptRuleCheck, PromptRuleService
from bot.services.reports import ReportService
from bot.services.review import ReviewService
from bot.services.runner import JobRunner, RunnerSettings
from bot.services.sources import JobSources
from bot.services.stats import StatsService
from bot.services.store import StoreService
from bot.storage.audit import AuditRepository
from bot.storage.channel_health import ChannelHealthRepository
from bot.storage.db import Database
from bot.storage.jobs import JobRepository
from bot.storage.ledger import LedgerRepository
from bot.storage.moderation import ModerationRepository
from bot.storage.purchases import PurchaseRepository
from bot.storage.reports import ReportRepository
from bot.storage.reviews import ReviewRepository
from bot.storage.settings import SettingsRepository
from bot.storage.sources import JobSourceRepository
from bot.storage.spend import SpendRepository


@dataclass(frozen=True, slots=True)
class Storage:
    """The repositories over one database, for the builder only; cogs reach them through services."""

    db: Database
    ledger: LedgerRepository
    job_repo: JobRepository
    settings: SettingsRepository
    spend: SpendRepository
    audit: AuditRepository
    moderation: ModerationRepository
    reviews: ReviewRepository
    reports: ReportRepository


def open_storage(db: Database) -> Storage:
    return Storage(
        db=db,
        ledger=LedgerRepository(db),
        job_repo=JobRepository(db),
        settings=SettingsRepository(db),
        spend=SpendRepository(db),
        audit=AuditRepository(db),
        moderation=ModerationRepository(db),
        reviews=ReviewRepository(db),
        reports=ReportRepository(db),
    )


@dataclass(frozen=True, slots=True)
class Services:
    provider_info: ProviderInfo
    media_limits: MediaLimits
    fetcher: ResultFetcher
    credits: CreditService
    jobs: JobService
    runner: JobRunner
    notices: AdminNotices
    admin: AdminService
    stats: StatsService
    moderation: ModerationService
    rules: PromptRuleService
    reviews: ReviewService
    reports: ReportService
    store: StoreService
    sources: JobSources
    lookup: JobLookup
    channel_health: ChannelHealth


def build_services(
    *,
    config: Config,
    db: Database,
    session: aiohttp.ClientSession,
    provider: Provider,
    clock: Clock,
    events: JobEvents,
    callback_url_for: Callable[[Job], str | None] | None = None,
    notice_sink: NoticeSink | None = None,
    storage: Storage | None = None,
) -> Services:
    store = storage or open_storage(db)
    ledger, job_repo, settings, spend, audit = store.ledger, store.job_repo, store.settings, store.spend, store.audit
    mod_repo, review_repo, report_repo = store.moderation, store.reviews, store.reports
    policy = GuildAllowancePolicy(settings, config.credits)
    credits = CreditService(db, ledger, policy, clock, audit=audit)
    notices = AdminNotices(settings, clock, notice_sink)
    budget = BudgetGuard(settings, spend, config.budget)
    moderation = ModerationService(
        db=db,
        repo=mod_repo,
        audit=audit,
        credits=credits,
        jobs=job_repo,
        reviews=review_repo,
        reports=report_repo,
        clock=clock,
    )
    global_rules = RuleSet.from_lists("global", config.moderation.blocked_words, config.moderation.blocked_patterns)
    rules = PromptRuleService(db=db, repo=mod_repo, audit=audit, global_rules=global_rules, clock=clock)
    # Refusals that need no transaction first, cheapest and most final first: a blocked member is
    # refused before their prompt is even read. Then the ones decided with the hold: the member's
    # own limits before the server's and the operator's budgets.
    channel_health = ChannelHealth(db, ChannelHealthRepository(db), audit, notices, clock)
    jobs = JobService(
        db=db,
        jobs=job_repo,
        credits=credits,
        prices=config.credits.prices.prices(),
        provider_name=provider.info.name,
        clock=clock,
        confirm_above=config.credits.confirm_above,
        request_checks=[BlockCheck(mod_repo), ChannelCheck(settings), PromptRuleCheck(rules)],
        hold_guards=[channel_health, FairnessGuard(job_repo, config.limits), budget],
        refusal_listeners=[notices],
    )
    reviews = ReviewService(
        db=db, reviews=review_repo, settings=mod_repo, jobs=job_repo, credits=credits, audit=audit, clock=clock
    )
    reports = ReportService(db=db, reports=report_repo, jobs=job_repo, audit=audit, clock=clock)
    runner = JobRunner(
        db=db,
        jobs=job_repo,
        credits=credits,
        provider=provider,
        events=events,
        clock=clock,
        alerts=notices,
        refusals=moderation,
        callback_url_for=callback_url_for,
        # Only wan26ai has a "public" flag; other providers never see the setting read.
        public_for=settings.public_gallery if provider.info.name == "wan26ai" else None,
        settings=RunnerSettings(
            poll_interval=config.provider.poll_interval_seconds,
            job_timeout=timedelta(minutes=config.provider.job_timeout_minutes),
            max_submit_attempts=config.provider.max_submit_attempts,
            concurrency=config.loop.concurrency,
            batch_size=config.loop.batch_size,
            progress_edit_seconds=config.delivery.progress_edit_seconds,
            max_in_flight=config.limits.max_in_flight,
            poll_stretch=CALLBACK_FALLBACK_STRETCH if config.callbacks.enabled else 1.0,
            step_wait_seconds=config.loop.tick_seconds,
            poll_patience=config.provider.poll_patience,
            # Twice the longest request a step makes (a create or status call, a result download),
            # and several ticks, so the heartbeat (each third of it) never lets a live claim lapse.
            lease_seconds=max(
                2 * max(config.provider.request_timeout_seconds, config.delivery.download_timeout_seconds),
                6 * config.loop.tick_seconds,
            ),
        ),
    )
    # Plain http downloads only when the provider itself is plain http (a local test server).
    fetcher = ResultFetcher(
        session,
        allow_http=config.provider.effective_base_url.startswith("http://"),
        timeout_seconds=config.delivery.download_timeout_seconds,
    )
    limits = MediaLimits(
        max_image_bytes=config.requests.max_image_mb * 1_048_576,
        max_video_bytes=config.requests.max_video_mb * 1_048_576,
    )
    return Services(
        provider_info=provider.info,
        media_limits=limits,
        fetcher=fetcher,
        credits=credits,
        jobs=jobs,
        runner=runner,
        notices=notices,
        admin=AdminService(db, settings, policy, budget, clock, audit),
        stats=StatsService(ledger, spend, clock),
        moderation=moderation,
        rules=rules,
        reviews=reviews,
        reports=reports,
        store=StoreService(db, PurchaseRepository(db), config.store, clock),
        sources=JobSources(JobSourceRepository(db)),
        lookup=JobLookup(db),
        channel_health=channel_health,
    )
