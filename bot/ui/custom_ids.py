"""Every custom_id the bot writes or reads, formatted and parsed here only.

Persistent buttons carry what they act on in their custom_id, so they keep working after any
number of restarts: ``wan:<action>:<job id>`` on results, reviews and /jobs, ``wan:report-<action>:
<report id>`` on the moderators' notices, ``wan:page:<list>:<member or 0>:<page>`` on paged lists.
A template (the regular expression discord.py matches) is the single definition of each form."""

from __future__ import annotations

import re

_PREFIX = "wan"

# The buttons every posted result carries; any one of them identifies a result message.
RESULT_ACTIONS = ("reroll", "remix", "report", "delete")
_RESULT = re.compile(rf"^{_PREFIX}:(?:{'|'.join(RESULT_ACTIONS)}):([0-9]+)$")


# The template of a base class that is never registered (discord.py requires one on every DynamicItem).
UNREGISTERED_TEMPLATE = rf"{_PREFIX}:_unregistered"


def job_action(action: str, job_id: int) -> str:
    return f"{_PREFIX}:{action}:{job_id}"


def job_template(action: str) -> str:
    return rf"{_PREFIX}:{action}:(?P<job_id>[0-9]+)"


def report_action(action: str, report_id: int) -> str:
    return f"{_PREFIX}:report-{action}:{report_id}"


def report_template(action: str) -> str:
    return rf"{_PREFIX}:report-{action}:(?P<report_id>[0-9]+)"


def page(kind: str, member_id: int, number: int) -> str:
    return f"{_PREFIX}:page:{kind}:{member_id}:{number}"


PAGE_TEMPLATE = rf"{_PREFIX}:page:(?P<kind>log|hist):(?P<member>[0-9]+):(?P<page>[0-9]+)"


def posted_result(job_id: int) -> str:
    """The custom_id that marks a job's posted result (looked for after a restart: "already posted?")."""
    return job_action("reroll", job_id)


def review_message(job_id: int) -> str:
    """The custom_id that marks a job's review message (looked for after a restart)."""
    return job_action("approve", job_id)


def undecided_review(job_id: int) -> str:
    """Present only while a review message still has its buttons (Reject goes when it is decided)."""
    return job_action("reject", job_id)


_JOB_ACTION = re.compile(rf"^{_PREFIX}:([a-z]+):([0-9]+)$")


def parse_job_action(custom_id: str) -> tuple[str, int] | None:
    """(action, job id) of a job button's custom_id, or None for any other custom_id."""
    match = _JOB_ACTION.match(custom_id)
    return (match.group(1), int(match.group(2))) if match else None


def result_job_id(custom_id: str) -> int | None:
    """The job a result message's button names, or None for any other custom_id."""
    match = _RESULT.match(custom_id)
    return int(match.group(1)) if match else None
