"""Discord refusing the bot's posts: 500 → retried, 413 → posted as a link, 403 → credits back and a
clear message; a long outage ends in a release the member is told about; the loop never stops."""

from __future__ import annotations

import random
from typing import Any

import pytest

from bot.domain.models import JobState
from tests.bot.conftest import RELAXED, STYLES, result_job_id, shown

POSTS = "/channels/*/messages"


async def the_job(world: Any) -> Any:
    [job] = await world.jobs(world.alice)
    return job


async def ticking(world: Any, seconds: float, step: float = 60) -> None:
    """Advance time, checking the loop ticks in every step."""
    runner = world.bot.services.runner
    for _ in range(int(seconds // step)):
        ticks = runner.stats.ticks
        await world.env.advance_time(step)
        assert runner.stats.ticks > ticks, "the loop stopped ticking"


@pytest.mark.parametrize("result_style", STYLES)
async def test_413_on_the_upload_falls_back_to_a_link(world_factory: Any, result_style: str) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        await world.video(world.alice)
        world.env.inject_error("POST", POSTS, status=413, code=40005, message="Request entity too large")
        await ticking(world, 120)
        [posted] = world.results()
        assert posted.attachments == [] and "/files/" in shown(posted).content
        assert (await the_job(world)).state is JobState.DELIVERED
        assert (await world.balance(world.alice)).available == 420
        world.env.errors.clear()


async def test_403_on_the_result_returns_the_credits_with_a_clear_message(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        await world.video(world.alice)
        world.env.inject_error("POST", POSTS, status=403, code=50013, message="Missing Permissions")
        await ticking(world, 120)
        job = await the_job(world)
        assert (job.state, job.error_code, job.notified) == (JobState.FAILED, "delivery_failed", True)
        assert world.results() == []
        notice = world.public()[-1]
        assert f"your job **#{job.id}** failed" in notice.content
        assert "could not be posted here" in notice.content and "credits are back" in notice.content
        assert world.pings(notice) == ([world.alice.id], [], False)
        assert (await world.balance(world.alice)).available == 500
        world.env.errors.clear()


async def test_a_short_outage_is_retried_and_posts_once(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        await world.video(world.alice)
        world.env.inject_error("POST", POSTS, status=500, times=4)
        await ticking(world, 600)
        assert len(world.results()) == 1
        assert (await the_job(world)).state is JobState.DELIVERED
        world.env.errors.clear()


async def test_a_long_outage_ends_in_a_release_the_member_is_told_about(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        await world.video(world.alice)
        # Every delivery attempt fails; the bot gives up, returns the credits, then tells the member.
        world.env.inject_error("POST", POSTS, status=503, times=10)
        await ticking(world, 3 * 3600, step=300)
        job = await the_job(world)
        assert (job.state, job.error_code, job.notified) == (JobState.FAILED, "delivery_failed", True)
        assert world.results() == []
        assert "credits are back" in world.public()[-1].content
        assert (await world.balance(world.alice)).available == 500
        world.env.errors.clear()


async def test_thirty_percent_of_posts_failing_still_delivers_every_job_once(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        rng = random.Random(5)
        backend = world.env.backend
        http = world.bot.http
        original = http.request
        failed = []

        async def flaky(route: Any, **kwargs: Any) -> Any:
            # Decided per request, inside the simulated Discord, as a flaky API would.
            if route.method == "POST" and route.path.endswith("/messages") and rng.random() < 0.3:
                status = rng.choice([500, 502, 413])
                failed.append(status)
                backend.faults.append(
                    {"method": "POST", "path": POSTS, "status": status, "code": 0, "message": "flaky", "times": 1}
                )
            return await original(route, **kwargs)

        http.request = flaky
        members = (world.alice, world.bob, world.mod, world.admin)
        for index in range(8):
            await world.video(members[index % 4], prompt=f"a paper boat #{index}")
        await ticking(world, 1800)
        jobs = [job for member in members for job in await world.jobs(member)]
        assert len(jobs) == 8 and all(job.state is JobState.DELIVERED for job in jobs)
        posted = [result_job_id(m) for m in world.results()]
        assert sorted(posted) == sorted(job.id for job in jobs)  # each once
        assert len(failed) >= 3 and world.bot.services.runner.stats.step_errors == 0
        world.env.errors.clear()
