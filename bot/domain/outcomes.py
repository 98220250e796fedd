"""How a job ends when the provider says no: one table from the kind of problem to the outcome.

The runner names the kind of problem the provider's error is (``ProviderProblem``) and looks the
answer up here: the state the job ends in, the code recorded on it, the one line the member reads, and
whether the server's admins are alerted (the operator's account needs them, not the member).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.domain.models import JobState


class ProviderProblem(enum.StrEnum):
    REFUSED = "refused"
    OUT_OF_CREDITS = "provider_out_of_credits"
    AUTH = "provider_auth"
    REJECTED = "rejected"
    OTHER = "provider_error"


@dataclass(frozen=True, slots=True)
class Outcome:
    state: JobState
    code: str
    member_text: str
    alert: bool = False


OPERATOR_ISSUE = "The bot's video provider account needs attention from the operator. Nothing was charged."

PROVIDER_OUTCOMES: dict[ProviderProblem, Outcome] = {
    ProviderProblem.REFUSED: Outcome(
        JobState.REFUSED,
        "refused",
        "The provider's content rules refused this prompt or its media. Change the prompt and try again.",
    ),
    ProviderProblem.OUT_OF_CREDITS: Outcome(JobState.FAILED, "provider_out_of_credits", OPERATOR_ISSUE, alert=True),
    ProviderProblem.AUTH: Outcome(JobState.FAILED, "provider_auth", OPERATOR_ISSUE, alert=True),
    ProviderProblem.REJECTED: Outcome(
        JobState.FAILED,
        "rejected",
        "The provider rejected the request (often an image or video link it cannot open). "
        "Check the media and try again.",
    ),
    ProviderProblem.OTHER: Outcome(JobState.FAILED, "provider_error", "The provider could not take this job."),
}


def outcome_for(problem: ProviderProblem) -> Outcome:
    return PROVIDER_OUTCOMES[problem]
