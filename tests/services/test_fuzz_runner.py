"""Hypothesis over what a provider may answer to a status check, through the real adapter and runner.

Each example submits one job normally, then the fake answers its next status checks with
arbitrary HTTP statuses and bodies (near-misses of the documented shapes, random JSON,
non-JSON), then behaves again. Whatever it said: no step raised an unexpected exception,
the job ended, it was delivered or released at most once, and its hold ended at most once.
Both adapters' parsers are fuzzed on their own in tests/providers; this is the loop above them.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.services.rig import Rig, open_rig, settled

TASK = "{TASK}"  # replaced by the example's real task id before the answer is served

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
words = st.sampled_from(
    ["pending", "processing", "completed", "failed", "unknown", "IN_PROGRESS", "SUCCESS", "FAILED", "GENERATING"]
) | st.text(max_size=12)
urls = st.sampled_from(["https://cdn.example/v.mp4", "http://cdn.example/v.mp4", "ftp://x", "", "not a url"])
messages = st.one_of(st.none(), st.sampled_from(["GPU lost", "content policy violation", "nsfw"]), st.text(max_size=30))
task_ids = st.sampled_from([TASK, TASK, TASK, "someone-else", ""]) | json_values
apimall_bodies = st.fixed_dictionaries(
    {"success": st.sampled_from([True, False, None, "yes", 1])},
    optional={
        "data": st.fixed_dictionaries(
            {"task_id": task_ids, "status": words | json_values},
            optional={
                "video_url": urls | json_values,
                "output": st.fixed_dictionaries({}, optional={"resultUrls": st.lists(urls, max_size=2) | json_values}),
                "error_message": messages,
                "credits_used": json_values,
            },
        )
        | json_values,
        "error": st.fixed_dictionaries({"code": json_values, "message": messages}) | json_values,
    },
)
wan26ai_bodies = st.fixed_dictionaries(
    {"code": st.sampled_from([200, 200, 400, 401, 402, 404, 429, 451, 500, "200", "oops", None])},
    optional={
        "message": messages,
        "data": st.fixed_dictionaries(
            {"task_id": task_ids, "status": words | json_values},
            optional={
                "response": st.lists(urls, max_size=2) | urls | json_values,
                "error_message": messages,
                "consumed_credits": json_values,
            },
        )
        | json_values,
    },
)
http_statuses = st.sampled_from([200, 200, 200, 200, 201, 202, 204, 301, 400, 401, 403, 404, 409, 410, 429, 451, 500])


def answers(bodies: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """One status answer, as keywords for ``server.inject``."""
    structured = st.builds(lambda status, body: {"status": status, "json": body}, http_statuses, bodies)
    raw = st.builds(lambda status, text: {"status": status, "body": text}, http_statuses, st.text(max_size=40))
    garbled = st.builds(lambda status: {"status": status, "malformed": True}, http_statuses)
    return st.one_of(structured, structured, structured, raw, garbled)


def _with_task_id(value: Any, task_id: str) -> Any:
    if value == TASK:
        return task_id
    if isinstance(value, dict):
        return {key: _with_task_id(item, task_id) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_task_id(item, task_id) for item in value]
    return value


_members = itertools.count(1)


async def play(rig: Rig, sequence: list[dict[str, Any]]) -> None:
    runner = rig.services.runner
    job = await rig.accept(member_id=next(_members))
    await rig.run(2)  # submitted, normally
    submitted = await rig.storage.job_repo.get(job.id)
    assert submitted is not None and submitted.provider_task_id is not None
    for answer in sequence:
        fault = {key: _with_task_id(value, submitted.provider_task_id) for key, value in answer.items()}
        if fault.get("json") is None:
            fault.pop("json", None)
        rig.server.inject("status", **fault)
    # Long enough for any backoff and for the 30-minute job timeout, in big steps.
    for _ in range(40):
        await rig.run(60, step=60)
        if rig.server.pending_faults("status") == 0:
            ended = await rig.storage.job_repo.get(job.id)
            if ended is not None and settled(ended):
                break
    rig.server.clear_faults()
    ended = await rig.storage.job_repo.get(job.id)
    assert ended is not None and settled(ended), ended
    event(f"{ended.state.value} {ended.error_code or ''}".strip())
    assert rig.events.delivered[job.id] + rig.events.told[job.id] == 1
    assert runner.stats.step_errors == 0
    assert await rig.money_problems() == []


@pytest_asyncio.fixture(params=["apimall", "wan26ai"])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(tmp_path, request.param, request_timeout_seconds=2) as opened:
        yield opened


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_any_status_answers_end_the_job_once_without_crashing(rig: Rig, data: st.DataObject) -> None:
    bodies = apimall_bodies if rig.server.__class__.__name__ == "FakeApimall" else wan26ai_bodies
    await play(rig, data.draw(st.lists(answers(bodies), min_size=1, max_size=5)))
