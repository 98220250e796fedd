"""Moderation models: plain data, no I/O, no Discord."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from bot.domain.models import Job


class AuditAction(enum.StrEnum):
    """Everything a moderator or admin can do, as recorded in the audit log."""

    GRANT = "grant"
    BLOCK = "block"
    UNBLOCK = "unblock"
    APPROVE = "approve"
    REJECT = "reject"
    REFUND = "refund"
    REMOVE = "remove"
    DISMISS_REPORT = "dismiss_report"
    RULE_ADD = "rule_add"
    RULE_REMOVE = "rule_remove"
    SETTING = "setting"
    PROVIDER_REFUSED = "provider_refused"  # by the bot itself: the provider's moderation said no

    @property
    def label(self) -> str:
        return {
            AuditAction.GRANT: "grant",
            AuditAction.BLOCK: "block",
            AuditAction.UNBLOCK: "unblock",
            AuditAction.APPROVE: "approve",
            AuditAction.REJECT: "reject",
            AuditAction.REFUND: "refund",
            AuditAction.REMOVE: "remove",
            AuditAction.DISMISS_REPORT: "dismiss report",
            AuditAction.RULE_ADD: "add rule",
            AuditAction.RULE_REMOVE: "remove rule",
            AuditAction.SETTING: "setting",
            AuditAction.PROVIDER_REFUSED: "provider refused",
        }[self]


class RuleKind(enum.StrEnum):
    WORD = "word"
    PATTERN = "pattern"


class ReviewState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ReportState(enum.StrEnum):
    OPEN = "open"
    REMOVED = "removed"
    DISMISSED = "dismissed"


@dataclass(frozen=True, slots=True)
class ModerationSettings:
    guild_id: int
    review_enabled: bool = False
    review_channel_id: int | None = None
    refund_on_reject: bool = False
    mod_channel_id: int | None = None

    @property
    def review_target(self) -> int | None:
        """The channel finished videos go to first, or None when they are posted directly."""
        return self.review_channel_id if self.review_enabled else None

    @property
    def notice_channel_id(self) -> int | None:
        """Where moderators are told about reports and refusals (the review channel if no other is set)."""
        return self.mod_channel_id or self.review_channel_id


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    guild_id: int
    actor_id: int | None
    action: AuditAction
    target_member_id: int | None
    job_id: int | None
    reason: str | None
    detail: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PromptRule:
    id: int
    guild_id: int
    kind: RuleKind
    value: str
    actor_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Block:
    guild_id: int
    member_id: int
    actor_id: int
    reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Review:
    job_id: int
    guild_id: int
    channel_id: int
    state: ReviewState
    decided_by: int | None
    decided_at: datetime | None
    reason: str | None
    # Approved: the public post (None until posted). Rejected: the notice telling the member,
    # 0 while they have not been told (see ``bot.storage.reviews.NOT_TOLD``).
    published_message_id: int | None
    created_at: datetime

    @property
    def member_told(self) -> bool:
        """False only for a rejection whose member notice has not gone out yet."""
        return self.state is not ReviewState.REJECTED or self.published_message_id != 0


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    guild_id: int
    job_id: int
    channel_id: int
    message_id: int
    state: ReportState
    notice_channel_id: int | None
    notice_message_id: int | None
    closed_by: int | None
    closed_at: datetime | None
    created_at: datetime
    votes: int


@dataclass(frozen=True, slots=True)
class Removal:
    job_id: int
    guild_id: int
    channel_id: int
    message_id: int
    actor_id: int
    by_owner: bool
    reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One job as a moderator sees it in a member's history."""

    job: Job
    review: Review | None
    removal: Removal | None
    refunded: bool
    reports: int
