"""Completion callbacks: a provider's "this task may be done" turned into an immediate status check.

A callback is only ever a hint. Its body is never believed: the job is found by something the
bot made (wan26ai: the secret token in the URL) or by something that was verified (apimall: an
HMAC signature over the body), and then the runner asks the provider's API, exactly as a poll
would. So a forged, replayed or garbled callback can at most cause one extra status check of a
job that is still rendering, and a lost one only costs time: polling goes on regardless.

apimall's webhooks are account-level and undocumented in the seed. The assumption, documented in
``config.example.toml`` and the README, and adjustable there:
  - the signature header (default ``X-Signature``) holds the lowercase hex HMAC-SHA256 of the raw
    request body under the webhook secret, optionally prefixed ``sha256=``;
  - when ``apimall_timestamp_header`` is set, that header holds the Unix time of the delivery, the
    signed text is ``<timestamp>.<raw body>``, and deliveries outside the tolerance are refused;
  - the task id is at ``task_id``/``taskId`` at the top level or inside ``data``/``task``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.config import CallbacksConfig
from bot.domain.models import ACTIVE_AT_PROVIDER, Job
from bot.ops.metrics import BotMetrics
from bot.services.runner import JobRunner
from bot.storage.jobs import JobRepository

log = logging.getLogger(__name__)

WAN26AI = "wan26ai"
APIMALL = "apimall"
WAN26AI_PATH = "/callbacks/wan26ai/"
APIMALL_PATH = "/callbacks/apimall"

# Tokens are ``secrets.token_urlsafe(24)`` (32 characters); anything else is refused before a lookup.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Where a task id may sit in an apimall delivery, most specific first.
_TASK_ID_PATHS: tuple[tuple[str, ...], ...] = (
    ("data", "task_id"),
    ("data", "taskId"),
    ("task_id",),
    ("taskId",),
    ("data", "task", "task_id"),
    ("data", "task", "id"),
    ("task", "task_id"),
    ("task", "id"),
)
_MAX_TASK_ID = 200


class Outcome(StrEnum):
    """What became of one delivery; also the label of the callbacks metric."""

    CHECKING = "checking"  # a job was found and is being checked now
    DEBOUNCED = "debounced"  # a job was found but was just checked; nothing more to do
    UNKNOWN = "unknown"  # no job follows this token or task (forged, replayed, or not ours)
    BAD_SIGNATURE = "bad_signature"
    INVALID = "invalid"  # verified, but no task id could be read
    DISABLED = "disabled"  # this provider's callbacks are not configured


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    outcome: Outcome
    job_id: int | None = None


def sign(secret: str, body: bytes, timestamp: str | None = None) -> str:
    """The hex HMAC-SHA256 the apimall webhook assumption expects (tests and operators use it too)."""
    message = body if timestamp is None else timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    body: bytes,
    signature: str | None,
    *,
    timestamp: str | None = None,
    use_timestamp: bool = False,
    tolerance_seconds: float = 300,
    now: float | None = None,
) -> bool:
    """True only for a well-formed signature that matches; compared in constant time."""
    if not secret or not signature:
        return False
    value = signature.strip().lower().removeprefix("sha256=")
    if not _HEX_SHA256.match(value):
        return False
    if use_timestamp:
        if timestamp is None or not timestamp.strip().isdecimal():
            return False
        timestamp = timestamp.strip()
        moment = now if now is not None else time.time()
        if abs(moment - int(timestamp)) > tolerance_seconds:
            return False
    else:
        timestamp = None
    return hmac.compare_digest(sign(secret, body, timestamp), value)


def extract_task_id(payload: object) -> str | None:
    """The task id from the plausible shapes of an apimall delivery; None when there is none."""
    if not isinstance(payload, Mapping):
        return None
    for path in _TASK_ID_PATHS:
        node: Any = payload
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, bool):
            continue
        if isinstance(node, int):
            node = str(node)
        if isinstance(node, str) and node.strip() and len(node.strip()) <= _MAX_TASK_ID:
            return node.strip()
    return None


class CallbackService:
    """Turns callback deliveries into ``runner.check_now`` calls; builds wan26ai callback URLs."""

    def __init__(
        self,
        config: CallbacksConfig,
        *,
        provider_name: str,
        jobs: JobRepository,
        runner: JobRunner,
        metrics: BotMetrics | None = None,
        min_interval_seconds: float = 2.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.provider_name = provider_name
        self.jobs = jobs
        self.runner = runner
        self.metrics = metrics
        self.min_interval_seconds = min_interval_seconds
        self.wall_clock = wall_clock
        # Set once the web server is listening; until then (or if it never starts) no URL is handed out.
        self.base_url: str | None = None
        self._last_hint: dict[int, float] = {}
        self._running: set[asyncio.Task[Any]] = set()

    # --- URLs handed to the provider ---------------------------------------------------------

    def url_for(self, job: Job) -> str | None:
        """The job's wan26ai ``callback_url``, or None (callbacks off, another provider, an old job)."""
        if (
            not self.config.enabled
            or self.base_url is None
            or self.provider_name != WAN26AI
            or job.provider != WAN26AI
            or not job.callback_token
        ):
            return None
        return f"{self.base_url}{WAN26AI_PATH}{job.callback_token}"

    # --- deliveries ----------------------------------------------------------------------------

    async def wan26ai(self, token: str) -> Answer:
        """A POST to ``/callbacks/wan26ai/<token>``. The body is not read for anything."""
        if not self.config.enabled or self.provider_name != WAN26AI:
            return self._count(WAN26AI, Answer(404, Outcome.DISABLED))
        if not _TOKEN_SHAPE.match(token):
            return self._count(WAN26AI, Answer(404, Outcome.UNKNOWN))
        job = await self.jobs.by_callback_token(token)
        return self._count(WAN26AI, self._hint(WAN26AI, job))

    async def apimall(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        """A POST to ``/callbacks/apimall``: verified first, then looked up by task id."""
        config = self.config
        secret = config.apimall_webhook_secret.get_secret_value()
        if not config.enabled or self.provider_name != APIMALL or not secret:
            return self._count(APIMALL, Answer(404, Outcome.DISABLED))
        verified = verify_signature(
            secret,
            body,
            headers.get(config.apimall_signature_header),
            timestamp=headers.get(config.apimall_timestamp_header) if config.apimall_timestamp_header else None,
            use_timestamp=bool(config.apimall_timestamp_header),
            tolerance_seconds=config.apimall_timestamp_tolerance_seconds,
            now=self.wall_clock(),
        )
        if not verified:
            log.warning("callback refused: apimall delivery without a valid signature")
            return self._count(APIMALL, Answer(401, Outcome.BAD_SIGNATURE))
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            payload = None
        task_id = extract_task_id(payload)
        if task_id is None:
            log.warning("callback ignored: a signed apimall delivery carried no task id")
            return self._count(APIMALL, Answer(400, Outcome.INVALID))
        job = await self.jobs.by_provider_task(APIMALL, task_id)
        answer = self._hint(APIMALL, job)
        if answer.outcome is Outcome.UNKNOWN:
            # Account-level webhooks also report tasks other apps made, and finished jobs: a 200
            # stops the provider from retrying something this bot will never act on.
            answer = Answer(200, Outcome.UNKNOWN)
        return self._count(APIMALL, answer)

    def _hint(self, provider: str, job: Job | None) -> Answer:
        if job is None or job.state not in ACTIVE_AT_PROVIDER:
            # Unknown, forged, or replayed after the job moved on: nothing to do, nothing changes.
            log.info("callback ignored: %s hint for no rendering job%s", provider, _job_ids(job))
            return Answer(404, Outcome.UNKNOWN, job.id if job else None)
        # A burst of deliveries for one job (provider retries, a replay while it renders) costs one
        # status check per interval, not one each.
        now = time.monotonic()
        last = self._last_hint.get(job.id)
        if last is not None and now - last < self.min_interval_seconds:
            return Answer(202, Outcome.DEBOUNCED, job.id)
        if len(self._last_hint) > 1000:
            self._last_hint = {key: at for key, at in self._last_hint.items() if now - at < self.min_interval_seconds}
        self._last_hint[job.id] = now
        log.info("callback received: checking now%s", _job_ids(job))
        # In the background: the provider gets its answer now, not after a download and an upload.
        # (The web server runs this method as the bot's own work, so this task is the bot's too.)
        task = asyncio.get_running_loop().create_task(self._check(job.id))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return Answer(202, Outcome.CHECKING, job.id)

    async def _check(self, job_id: int) -> None:
        try:
            # Any process may receive the callback: the job is due now for whichever one works on it,
            # and this one checks it at once unless it is already stepping it (or, with leases,
            # another process holds it).
            await self.jobs.mark_due(job_id, self.runner.clock())
            await self.runner.check_now(job_id)
        except Exception:  # check_now catches per-job errors itself; this is a last guard
            log.exception("callback check failed job=%d", job_id)

    def _count(self, provider: str, answer: Answer) -> Answer:
        if self.metrics is not None:
            self.metrics.callbacks.labels(provider, answer.outcome.value).inc()
        return answer

    async def drain(self, grace_seconds: float) -> None:
        """Let checks started by callbacks finish (bounded), then cancel the rest. For shutdown."""
        running = [task for task in self._running if not task.done()]
        if not running:
            return
        _done, pending = await asyncio.wait(running, timeout=grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def _job_ids(job: Job | None) -> str:
    if job is None:
        return ""
    return f" job={job.id} guild={job.guild_id} member={job.member_id} state={job.state.value}"
