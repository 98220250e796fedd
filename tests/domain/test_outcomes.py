"""The provider error → outcome table: every kind of problem ends a job in a released state with
one line for the member; only the operator's account problems alert the server's admins."""

from __future__ import annotations

import pytest

from bot.domain.models import JobState
from bot.domain.outcomes import OPERATOR_ISSUE, ProviderProblem, outcome_for


@pytest.mark.parametrize("problem", list(ProviderProblem))
def test_every_problem_releases_the_credits_and_tells_the_member_something(problem: ProviderProblem) -> None:
    outcome = outcome_for(problem)
    assert outcome.state.is_released and outcome.member_text.endswith(".")
    assert outcome.code == problem.value


def test_only_the_operators_account_problems_alert_admins() -> None:
    alerting = {problem for problem in ProviderProblem if outcome_for(problem).alert}
    assert alerting == {ProviderProblem.OUT_OF_CREDITS, ProviderProblem.AUTH}
    assert all(outcome_for(problem).member_text == OPERATOR_ISSUE for problem in alerting)
    assert outcome_for(ProviderProblem.REFUSED).state is JobState.REFUSED
