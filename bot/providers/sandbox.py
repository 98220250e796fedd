"""The free sandbox provider: no key, no network, no cost, a real short MP4 at the end.

It lets a server try every flow (charge, progress, delivery, reroll, refunds) before the
operator pays for a provider account.

The provider keeps no state: everything ``status`` needs is inside the task id
(``sbx-<submit epoch ms>-<outcome>-<key hash>``), so a job submitted before a restart is
followed to the same end by a fresh instance afterwards. Progress is computed from the
injected clock, so the simulated Discord's virtual time drives it in tests and nothing
here ever sleeps.

Prompt hooks, for trying the unhappy paths on purpose: a prompt containing
``sandbox:refuse`` ends REFUSED (as a moderation refusal would), one containing
``sandbox:fail`` ends FAILED. Refusal wins when both are present, since a real provider
moderates before it renders.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import re
from importlib import resources
from pathlib import Path

from bot.domain.clock import Clock, to_ts
from bot.domain.models import VideoSpec
from bot.providers.base import (
    ProviderInfo,
    ProviderRejectedRequest,
    SubmitRequest,
    SubmitResult,
    TaskNotFound,
    TaskState,
    TaskStatus,
)

SANDBOX_SCHEME = "sandbox://"
SANDBOX_VIDEO_NAME = "sandbox.mp4"
SANDBOX_VIDEO_URL = SANDBOX_SCHEME + SANDBOX_VIDEO_NAME

FAIL_HOOK = "sandbox:fail"
REFUSE_HOOK = "sandbox:refuse"
FAIL_MESSAGE = "The prompt asked the sandbox for a failure (sandbox:fail)."
REFUSE_MESSAGE = "The prompt asked the sandbox for a refusal (sandbox:refuse)."

# Share of the render time a task reports QUEUED before it reports RUNNING.
QUEUED_FRACTION = 0.1

_OUTCOME_SUCCEED, _OUTCOME_FAIL, _OUTCOME_REFUSE = "s", "f", "r"
_TASK_ID = re.compile(r"sbx-(?P<ms>\d{1,15})-(?P<outcome>[sfr])-(?P<key>[0-9a-f]{12})")
# Remembered per instance so a retried submit returns the same id; bounded so it cannot grow forever.
_MAX_REMEMBERED = 4096

_INFO = ProviderInfo(
    name="sandbox",
    idempotent_submit=True,
    supports_callbacks=False,
    is_sandbox=True,
    notes=("free test provider: no network, no cost, returns a short test-card MP4",),
)


def sandbox_video_path() -> Path:
    """The packaged test-card MP4 as a real file path.

    From a normal install this is the file inside the package; from a zipped install the
    asset is extracted once and kept until the process exits.
    """
    return _extracted_video()


@functools.cache
def _extracted_video() -> Path:
    resource = resources.files("bot.providers") / "assets" / SANDBOX_VIDEO_NAME
    if isinstance(resource, Path):
        return resource
    stack = contextlib.ExitStack()
    atexit.register(stack.close)
    return stack.enter_context(resources.as_file(resource))


class SandboxProvider:
    """A ``Provider`` that renders nothing and always delivers the packaged MP4 (or a requested failure)."""

    def __init__(self, *, clock: Clock, render_seconds: float) -> None:
        if render_seconds < 0:
            raise ValueError("render_seconds cannot be negative")
        self._clock = clock
        self._render_seconds = float(render_seconds)
        self._submitted: dict[str, str] = {}

    @property
    def info(self) -> ProviderInfo:
        return _INFO

    async def submit(self, request: SubmitRequest) -> SubmitResult:
        spec = request.spec
        # Mirror the real providers' 400 so the sandbox never accepts what they would reject.
        if spec.duration not in spec.mode.durations:
            raise ProviderRejectedRequest(f"{spec.mode.value} does not support {spec.duration} s")
        remembered = self._submitted.get(request.idempotency_key)
        if remembered is not None:
            return SubmitResult(task_id=remembered)
        submitted_ms = int(to_ts(self._clock()) * 1000)
        task_id = f"sbx-{submitted_ms}-{_outcome(spec.prompt)}-{_key_hash(request.idempotency_key)}"
        if len(self._submitted) >= _MAX_REMEMBERED:
            self._submitted.pop(next(iter(self._submitted)))
        self._submitted[request.idempotency_key] = task_id
        return SubmitResult(task_id=task_id)

    async def status(self, task_id: str) -> TaskStatus:
        match = _TASK_ID.fullmatch(task_id)
        if match is None:
            raise TaskNotFound(f"not a sandbox task id: {task_id[:80]!r}")
        # A clock that stepped backwards reads as "just submitted", never as a negative age.
        elapsed = max(0.0, to_ts(self._clock()) - int(match["ms"]) / 1000)
        if elapsed < self._render_seconds * QUEUED_FRACTION:
            return TaskStatus(state=TaskState.QUEUED, raw_status="queued")
        if elapsed < self._render_seconds:
            return TaskStatus(state=TaskState.RUNNING, raw_status="running")
        outcome = match["outcome"]
        if outcome == _OUTCOME_REFUSE:
            return TaskStatus(state=TaskState.REFUSED, error_message=REFUSE_MESSAGE, raw_status="refused")
        if outcome == _OUTCOME_FAIL:
            return TaskStatus(state=TaskState.FAILED, error_message=FAIL_MESSAGE, raw_status="failed")
        return TaskStatus(
            state=TaskState.SUCCEEDED,
            video_urls=(SANDBOX_VIDEO_URL,),
            raw_status="succeeded",
            charged_credits=0,
        )

    async def verify_key(self) -> None:
        """There is no key to verify."""

    def expected_render_seconds(self, spec: VideoSpec) -> float:
        return self._render_seconds


def _outcome(prompt: str) -> str:
    lowered = prompt.lower()
    if REFUSE_HOOK in lowered:
        return _OUTCOME_REFUSE
    if FAIL_HOOK in lowered:
        return _OUTCOME_FAIL
    return _OUTCOME_SUCCEED


def _key_hash(idempotency_key: str) -> str:
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:12]
