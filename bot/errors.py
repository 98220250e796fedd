"""Typed errors that carry a message meant for the member who caused them.

Services raise these; the one app-command error handler turns them into ephemeral replies.
Anything else is a bug: logged with a reference code, and the member only sees the code.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An expected refusal. ``message`` is shown to the member as is, so it must say what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(UserFacingError):
    """The command's options cannot be accepted as given."""


class InsufficientCredits(UserFacingError):
    def __init__(self, message: str, *, price: int, available: int) -> None:
        super().__init__(message)
        self.price = price
        self.available = available


class NotPermitted(UserFacingError):
    """The member lacks the role or permission this action needs."""


class NotFound(UserFacingError):
    """The job, entry or member named does not exist here."""


class Conflict(UserFacingError):
    """The action no longer applies (the job moved on, someone else already decided)."""


class LimitReached(UserFacingError):
    """A fairness limit (running jobs, cooldown) or a budget cap refuses the request for now."""
