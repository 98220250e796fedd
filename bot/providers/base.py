"""The one interface every video provider implements, and the errors it may raise.

The rest of the bot never sees provider JSON, status words or HTTP codes: an adapter turns
them into a ``TaskStatus`` or one of the exceptions below, and the job runner decides what
happens to the member's credits from the exception's class alone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from bot.domain.models import VideoSpec


class TaskState(enum.StrEnum):
    QUEUED = "queued"  # accepted by the provider, not started
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # at least one video URL is available
    FAILED = "failed"  # the render failed; the provider refunds the operator
    REFUSED = "refused"  # content moderation refused the prompt or media
    UNKNOWN = "unknown"  # a status word we do not know: keep polling until the job times out


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    spec: VideoSpec
    # Stable per job: apimall sends it as Idempotency-Key so a retried create makes no second task.
    idempotency_key: str
    callback_url: str | None = None
    # wan26ai's gallery flag; stays False unless a server's admins turn it on.
    public: bool = False


@dataclass(frozen=True, slots=True)
class SubmitResult:
    task_id: str
    charged_credits: int | None = None  # what the create answer says it charged (apimall credits_used)


@dataclass(frozen=True, slots=True)
class TaskStatus:
    state: TaskState
    video_urls: tuple[str, ...] = ()
    error_message: str | None = None
    raw_status: str | None = None  # the provider's own word, for logs
    charged_credits: int | None = None  # what the provider says it charged the operator (net), when it says
    refunded_credits: int | None = None  # what it says it gave back (apimall credits_refunded), when it says


# --- errors ----------------------------------------------------------------------------------


@dataclass(eq=False)
class ProviderError(Exception):
    """Base of everything an adapter raises. ``detail`` is for operators' logs, already free of secrets."""

    detail: str
    http_status: int | None = None
    provider_code: str | None = None

    def __str__(self) -> str:
        status = f"HTTP {self.http_status}: " if self.http_status is not None else ""
        return f"{status}{self.detail}"


@dataclass(eq=False)
class TransientProviderError(ProviderError):
    """Try again later (429, 5xx, 409 idempotency in progress, timeouts, garbled answers to a status check).

    ``retry_after`` is the provider's Retry-After in seconds when it sent one.
    """

    retry_after: float | None = None


@dataclass(eq=False)
class AmbiguousSubmitError(TransientProviderError):
    """A create request was sent but no usable answer came back: the task may or may not exist.

    Safe to retry only with an idempotency key (``Provider.idempotent_submit``).
    """


@dataclass(eq=False)
class PermanentProviderError(ProviderError):
    """Retrying the same request cannot help; the job ends and its credits go back."""


@dataclass(eq=False)
class ProviderAuthError(PermanentProviderError):
    """401/403: the operator's key is missing, wrong or not approved. Operators must fix the config."""


@dataclass(eq=False)
class ProviderOutOfCredits(PermanentProviderError):
    """402: the operator's provider account cannot pay for the render. Admins must be told."""


@dataclass(eq=False)
class ProviderRefused(PermanentProviderError):
    """451 or a moderation failure: the provider will not render this prompt or media."""


@dataclass(eq=False)
class ProviderRejectedRequest(PermanentProviderError):
    """400: the provider says the request itself is invalid (bad media URL, unsupported option)."""


@dataclass(eq=False)
class TaskNotFound(PermanentProviderError):
    """The provider does not know the task id (404 on a status check)."""


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    name: str
    idempotent_submit: bool
    supports_callbacks: bool
    is_sandbox: bool = False
    notes: tuple[str, ...] = field(default=())


@runtime_checkable
class Provider(Protocol):
    """A Wan 2.6 video provider.

    Adapters make exactly one HTTP request per call and never sleep or retry themselves:
    retries are scheduled by the job runner, persisted in SQLite, so a backoff survives a
    restart and never blocks other jobs.
    """

    @property
    def info(self) -> ProviderInfo: ...

    async def submit(self, request: SubmitRequest) -> SubmitResult:
        """Create a task. Raises a ``ProviderError`` subclass on anything but a clear task id."""
        ...

    async def status(self, task_id: str) -> TaskStatus:
        """Check a task. Raises a ``ProviderError`` subclass when no usable status came back."""
        ...

    async def verify_key(self) -> None:
        """A harmless request that proves the key works; raises ``ProviderAuthError`` when it does not."""
        ...

    def expected_render_seconds(self, spec: VideoSpec) -> float:
        """A first guess at how long a render takes, used before any history exists."""
        ...
