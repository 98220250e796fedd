"""Measuring wrappers around the provider and the delivery side, so neither the adapters nor
the job runner carry metrics code: the runner calls the same interface it always did."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.domain.clock import Clock
from bot.domain.models import Job, VideoSpec
from bot.ops.metrics import BotMetrics
from bot.providers.base import Provider, ProviderError, ProviderInfo, SubmitRequest, SubmitResult, TaskStatus
from bot.services.events import Delivered, JobEvents

T = TypeVar("T")


def _status_label(error: BaseException) -> str:
    if isinstance(error, ProviderError) and error.http_status is not None:
        return str(error.http_status)
    if isinstance(error, ProviderError):
        return "network"  # no HTTP answer: timeouts, refused connections, unreadable bodies
    return "exception"


class InstrumentedProvider:
    """A ``Provider`` that times every call and counts failures by HTTP status."""

    def __init__(self, inner: Provider, metrics: BotMetrics) -> None:
        self._inner = inner
        self._metrics = metrics
        self._name = inner.info.name

    def __repr__(self) -> str:
        return f"InstrumentedProvider({self._inner!r})"

    @property
    def info(self) -> ProviderInfo:
        return self._inner.info

    async def _measure(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        # perf_counter, not the bot clock: latency is real elapsed time, even under a simulated clock.
        started = time.perf_counter()
        try:
            return await call()
        except Exception as error:
            self._metrics.provider_errors.labels(self._name, operation, _status_label(error)).inc()
            raise
        finally:
            self._metrics.provider_request_seconds.labels(self._name, operation).observe(time.perf_counter() - started)

    async def submit(self, request: SubmitRequest) -> SubmitResult:
        return await self._measure("submit", lambda: self._inner.submit(request))

    async def status(self, task_id: str) -> TaskStatus:
        return await self._measure("status", lambda: self._inner.status(task_id))

    async def verify_key(self) -> None:
        await self._measure("verify_key", self._inner.verify_key)

    def expected_render_seconds(self, spec: VideoSpec) -> float:
        return self._inner.expected_render_seconds(spec)


class InstrumentedEvents:
    """``JobEvents`` that records how long a finished video took to reach the channel."""

    def __init__(self, inner: JobEvents, metrics: BotMetrics, clock: Clock) -> None:
        self._inner = inner
        self._metrics = metrics
        self._clock = clock

    async def progress(self, job: Job, *, queue_position: int | None = None) -> None:
        await self._inner.progress(job, queue_position=queue_position)

    async def deliver(self, job: Job) -> Delivered:
        delivered = await self._inner.deliver(job)
        self._metrics.observe_delivery(job.finished_at, self._clock)
        return delivered

    async def find_delivery(self, job: Job) -> int | None:
        return await self._inner.find_delivery(job)

    async def find_notice(self, job: Job) -> int | None:
        return await self._inner.find_notice(job)

    async def ended(self, job: Job) -> None:
        await self._inner.ended(job)
