"""The provider fails 30% of requests (429, 500, 503, garbled JSON, dropped answers): every job
still ends delivered or released with the member told in the channel, and the loop keeps ticking.

Timeouts are in ``tests/services/test_chaos_runner.py``: under SimCord the bot's request
timeout is a virtual timer that cannot fire while a request is still on the wire, so a slow
answer would only slow the test down without ever timing out.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.models import Job, JobState
from tests.bot.conftest import RELAXED, result_job_id

JOBS = 20
FAULTS: list[dict[str, Any]] = [
    {"status": 429, "retry_after": 7},
    {"status": 500},
    {"status": 503},
    {"malformed": True},  # HTTP 200 with truncated JSON
    {"drop": True},  # processed, then the connection is cut before the answer
]


async def all_jobs(world: Any) -> list[Job]:
    jobs = [job for member in (world.alice, world.bob, world.mod, world.admin) for job in await world.jobs(member)]
    return sorted(jobs, key=lambda job: job.id)


def settled(job: Job) -> bool:
    return job.state is JobState.DELIVERED or (job.state.is_released and job.notified)


@pytest.mark.parametrize("kind", ["apimall", "wan26ai"])
async def test_every_job_ends_and_is_told_when_30_percent_of_requests_fail(world_factory: Any, kind: str) -> None:
    async with world_factory(kind, **RELAXED) as world:
        chaos = world.server.fail_randomly(0.3, FAULTS, seed=3)
        runner = world.bot.services.runner
        members = (world.alice, world.bob, world.mod, world.admin)
        for index in range(JOBS):
            answer = await world.video(members[index % len(members)], prompt=f"a lighthouse in a storm #{index}")
            assert "accepted" in answer.response.content
            await world.env.advance_time(5)

        for _ in range(40):
            ticks = runner.stats.ticks
            await world.env.advance_time(60)
            assert runner.stats.ticks > ticks, "the loop stopped ticking"
            if all(settled(job) for job in await all_jobs(world)):
                break

        jobs = await all_jobs(world)
        assert len(jobs) == JOBS
        sent = len(world.server.requests_to("generate")) + len(world.server.requests_to("status"))
        assert chaos.injected >= 0.2 * sent and set(chaos.picked) == set(range(len(FAULTS)))
        public = world.public()
        results = {result_job_id(m) for m in world.results()}
        assert len(world.results()) == len(results)  # one post per delivered job
        for job in jobs:
            assert job.state.is_terminal, job
            if job.state is JobState.DELIVERED:
                assert job.id in results
            else:
                assert job.id not in results and job.notified
                told = [m for m in public if f"your job **#{job.id}**" in m.content]
                assert len(told) == 1 and "credits are back" in told[0].content
        delivered = sum(job.price for job in jobs if job.state is JobState.DELIVERED)
        balances = [await world.balance(member) for member in members]
        assert all(balance.held == 0 for balance in balances)
        assert sum(balance.available for balance in balances) == len(members) * 500 - delivered
        assert runner.stats.step_errors == 0  # every failure was a handled one
        world.env.errors.clear()
