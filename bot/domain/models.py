"""Domain models: plain data, no I/O, no Discord.

Repositories return these; services pass them around; cogs render them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

from bot.domain.periods import Period

Resolution = Literal["720p", "1080p"]
Duration = Literal[5, 10, 15]
RESOLUTIONS: tuple[Resolution, ...] = get_args(Resolution)
DURATIONS: tuple[Duration, ...] = get_args(Duration)


class Mode(enum.StrEnum):
    TEXT_TO_VIDEO = "text-to-video"
    IMAGE_TO_VIDEO = "image-to-video"
    VIDEO_TO_VIDEO = "video-to-video"

    @property
    def label(self) -> str:
        return {
            Mode.TEXT_TO_VIDEO: "Text → video",
            Mode.IMAGE_TO_VIDEO: "Image → video",
            Mode.VIDEO_TO_VIDEO: "Video → video",
        }[self]

    @property
    def durations(self) -> tuple[Duration, ...]:
        # Both provider documents: video-to-video supports 5 or 10 seconds only.
        return (5, 10) if self is Mode.VIDEO_TO_VIDEO else DURATIONS


class JobState(enum.StrEnum):
    """Persisted lifecycle of a job.

    accepted → submitted → rendering → succeeded → delivering → delivered
    and any of the first four → failed | refused | timed_out | cancelled, each of which
    releases the hold in the same transaction as the transition.
    """

    ACCEPTED = "accepted"  # credits held, waiting to be sent to the provider
    SUBMITTED = "submitted"  # the provider gave us a task id
    RENDERING = "rendering"  # the provider reported it is working on it
    SUCCEEDED = "succeeded"  # the provider has a video; not posted yet
    DELIVERING = "delivering"  # a post to Discord has started; may have happened
    DELIVERED = "delivered"  # posted; the hold was settled (kept)
    FAILED = "failed"
    REFUSED = "refused"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_released(self) -> bool:
        return self in RELEASED_STATES

    @property
    def label(self) -> str:
        return {
            JobState.ACCEPTED: "queued",
            JobState.SUBMITTED: "submitted",
            JobState.RENDERING: "rendering",
            JobState.SUCCEEDED: "finishing",
            JobState.DELIVERING: "posting",
            JobState.DELIVERED: "delivered",
            JobState.FAILED: "failed",
            JobState.REFUSED: "refused",
            JobState.TIMED_OUT: "timed out",
            JobState.CANCELLED: "cancelled",
        }[self]


RELEASED_STATES = frozenset({JobState.FAILED, JobState.REFUSED, JobState.TIMED_OUT, JobState.CANCELLED})
TERMINAL_STATES = RELEASED_STATES | {JobState.DELIVERED}
ACTIVE_AT_PROVIDER = frozenset({JobState.SUBMITTED, JobState.RENDERING})


class LedgerKind(enum.StrEnum):
    GRANT = "grant"  # one-off credits from an admin (negative revokes)
    REFILL = "refill"  # periodic top-up to the allowance
    HOLD = "hold"  # credits reserved for a job
    SETTLE = "settle"  # a held amount kept because the video was delivered
    RELEASE = "release"  # a held amount returned because the job did not deliver
    ADJUST = "adjust"  # corrections, moderator refunds after delivery
    PURCHASE = "purchase"  # a credit pack bought in Discord's store (negative: taken back on revoke)


@dataclass(frozen=True, slots=True)
class VideoSpec:
    """What the member asked for: enough to price it, submit it and reroll it."""

    mode: Mode
    prompt: str
    duration: Duration
    resolution: Resolution
    image_url: str | None = None
    video_url: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    guild_id: int
    channel_id: int
    member_id: int
    spec: VideoSpec
    price: int
    state: JobState
    provider: str
    idempotency_key: str
    provider_task_id: str | None
    submit_attempts: int
    submit_in_flight: bool
    check_attempts: int
    next_check_at: datetime | None
    accepted_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None
    delivered_at: datetime | None
    result_url: str | None
    error_code: str | None
    error_message: str | None
    progress_message_id: int | None
    progress_edited_at: datetime | None
    result_message_id: int | None
    notified: bool
    parent_job_id: int | None
    # Secret: the last part of this job's completion-callback URL. Never logged.
    callback_token: str | None = field(default=None, repr=False)
    # The provider may have charged the operator for this render and has not said it refunded it.
    provider_billed: bool = False
    # What the provider reported charging (net) and refunding, in its own credits; None: not said.
    provider_charged: int | None = None
    provider_refunded: int | None = None
    # A create got no usable answer: a paid task may exist under this job's Idempotency-Key.
    create_unanswered: bool = False
    # The process working on it, until when, and the fencing epoch its claim set (bot/storage/jobs.py).
    lease_owner: str | None = None
    lease_until: datetime | None = None
    lease_epoch: int = 0
    # The Discord interaction that asked for it (one job per interaction, whichever process got it).
    interaction_id: int | None = None
    # The server's upload limit when the job was accepted (any process may deliver it); None: unknown.
    upload_limit_bytes: int | None = None

    @property
    def cancellable(self) -> bool:
        """Queued and certainly not at the provider: nothing was sent, or nothing can exist there."""
        return self.state is JobState.ACCEPTED and not self.submit_in_flight and not self.create_unanswered

    @property
    def is_sandbox(self) -> bool:
        return self.provider == "sandbox"

    @property
    def render_seconds(self) -> float | None:
        if self.submitted_at is None or self.finished_at is None:
            return None
        return max(0.0, (self.finished_at - self.submitted_at).total_seconds())


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    guild_id: int
    member_id: int
    kind: LedgerKind
    amount: int
    job_id: int | None
    actor_id: int | None
    reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Balance:
    """A member's credits, derived from the ledger.

    ``available`` can be spent now; ``held`` is reserved by jobs that have not ended.
    """

    available: int
    held: int


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """A server's own choices. ``None`` means "the config's default" for that setting."""

    guild_id: int
    default_allowance: int | None = None
    refill_period: Period | None = None
    budget_cap: int | None = None  # 0 = no cap, chosen by the server's admins
    budget_period: Period | None = None
    admin_channel_id: int | None = None
    # wan26ai's "public" flag (its public galleries): off unless the server's admins turn it on.
    public_gallery: bool = False


@dataclass(frozen=True, slots=True)
class DaySpend:
    day: str  # YYYY-MM-DD, UTC
    credits: int
    jobs: int


@dataclass(frozen=True, slots=True)
class MemberSpend:
    member_id: int
    credits: int
    jobs: int
