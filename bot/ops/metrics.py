"""Prometheus metrics for one bot, on its own registry.

A per-bot ``CollectorRegistry`` instead of prometheus_client's global one: several bots in
one process (tests, a restart inside one process) would otherwise collide on metric names.

Two kinds of numbers:
  - observed in this process (provider request latency and errors, delivery latency,
    callbacks): counters and histograms fed by ``InstrumentedProvider`` / ``InstrumentedEvents``
    and the callback receiver; they restart at zero with the process, as Prometheus expects;
  - read from the database at scrape time (jobs by state, credits held, settled and released):
    the truth survives restarts, so they come from SQLite, refreshed by ``refresh()``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.domain.clock import Clock
from bot.domain.models import JobState, LedgerKind
from bot.services.runner import RunnerStats
from bot.storage.jobs import JobRepository
from bot.storage.ledger import LedgerRepository

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Provider calls: a status check is ~100 ms, a create can take seconds, a timeout is 30 s.
_PROVIDER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Finish → post: a download plus an upload, seconds to minutes.
_DELIVERY_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


@dataclass(slots=True)
class _Snapshot:
    """What the database said at the last refresh."""

    jobs: dict[JobState, int] = field(default_factory=dict)
    ledger: dict[LedgerKind, int] = field(default_factory=dict)
    ok: bool = False


class _StateCollector(Collector):
    """Exposes the last database snapshot and the job loop's counters at collection time."""

    def __init__(self, metrics: BotMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snapshot = self._metrics.snapshot
        jobs = GaugeMetricFamily("wanbot_jobs", "Jobs by state, from the database", labels=["state"])
        for state in JobState:
            jobs.add_metric([state.value], snapshot.jobs.get(state, 0))
        yield jobs
        ledger = snapshot.ledger
        get = ledger.get
        held = get(LedgerKind.HOLD, 0) - get(LedgerKind.SETTLE, 0) - get(LedgerKind.RELEASE, 0)
        yield GaugeMetricFamily(
            "wanbot_credits_held", "Member credits held by jobs that have not ended, from the ledger", value=held
        )
        yield CounterMetricFamily(
            "wanbot_credits_settled",
            "Member credits kept for delivered videos, all time, from the ledger",
            value=get(LedgerKind.SETTLE, 0),
        )
        yield CounterMetricFamily(
            "wanbot_credits_released",
            "Member credits returned for jobs that did not deliver, all time, from the ledger",
            value=get(LedgerKind.RELEASE, 0),
        )
        yield GaugeMetricFamily(
            "wanbot_database_up", "1 when the last metrics read of the database worked", value=int(snapshot.ok)
        )
        stats = self._metrics.runner_stats
        if stats is not None:
            yield CounterMetricFamily("wanbot_loop_ticks", "Job loop ticks finished", value=stats.ticks)
            yield CounterMetricFamily(
                "wanbot_loop_step_errors", "Unexpected errors while stepping a job", value=stats.step_errors
            )
            if stats.last_tick_at is not None:
                yield GaugeMetricFamily(
                    "wanbot_loop_last_tick_timestamp_seconds",
                    "When the job loop last finished a tick (Unix time)",
                    value=stats.last_tick_at.timestamp(),
                )
            yield GaugeMetricFamily(
                "wanbot_loop_last_tick_duration_seconds",
                "How long the last job loop tick took",
                value=stats.last_tick_seconds,
            )


class BotMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.provider_request_seconds = Histogram(
            "wanbot_provider_request_seconds",
            "Provider API calls by operation, including failed ones",
            ["provider", "operation"],
            buckets=_PROVIDER_BUCKETS,
            registry=self.registry,
        )
        self.provider_errors = Counter(
            "wanbot_provider_errors",
            "Provider API calls that failed, by HTTP status (or 'network' when none came back)",
            ["provider", "operation", "status"],
            registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "wanbot_delivery_seconds",
            "From the provider reporting a video finished to its post in the channel",
            buckets=_DELIVERY_BUCKETS,
            registry=self.registry,
        )
        self.callbacks = Counter(
            "wanbot_callbacks",
            "Completion callbacks received, by provider and outcome",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.snapshot = _Snapshot()
        self.runner_stats: RunnerStats | None = None
        self._jobs: JobRepository | None = None
        self._ledger: LedgerRepository | None = None
        self.registry.register(_StateCollector(self))

    def bind(self, *, jobs: JobRepository, ledger: LedgerRepository, runner_stats: RunnerStats) -> None:
        """Attach the sources read at scrape time (they exist only once the services are built)."""
        self._jobs, self._ledger, self.runner_stats = jobs, ledger, runner_stats

    def observe_delivery(self, finished_at: datetime | None, clock: Clock) -> None:
        if finished_at is not None:
            self.delivery_seconds.observe(max(0.0, (clock() - finished_at).total_seconds()))

    async def refresh(self) -> None:
        """Read the database numbers. A failure keeps the previous numbers and says so in wanbot_database_up."""
        if self._jobs is None or self._ledger is None:
            return
        try:
            jobs = await self._jobs.count_by_state()
            ledger = await self._ledger.totals_by_kind()
        except Exception:
            log.warning("metrics: could not read the database", exc_info=True)
            self.snapshot.ok = False
            return
        self.snapshot = _Snapshot(jobs=jobs, ledger=ledger, ok=True)

    async def render(self) -> bytes:
        await self.refresh()
        return generate_latest(self.registry)
