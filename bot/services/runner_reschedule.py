"""One way to look at a job again later: raise ``Reschedule`` from anywhere inside a step.

Like arq's ``Retry(defer=…)``: the step says how long to wait and what to write with the new
time; ``JobRunner`` writes it in one place (a compare-and-set on ``expect_state`` when given, so a
job that moved meanwhile, cancelled or ended by another actor, keeps its new state) and logs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.domain.models import JobState


@dataclass(eq=False)
class Reschedule(Exception):
    delay: float
    #: What failed, for the log line (``job <what> failed … retry_in=…: <reason>``); None logs nothing.
    what: str | None = None
    reason: object = None
    expect_state: JobState | None = None
    #: Columns written with the new ``next_check_at`` (the attempt counter, flags).
    fields: dict[str, Any] = field(default_factory=dict)


class LeaseLost(Exception):
    """Another process took this job over (this one stalled past its lease): the step stops
    before its next external call and writes nothing more; the new owner carries on."""
