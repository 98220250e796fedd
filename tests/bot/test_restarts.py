"""Restarts: every job resumes, none is submitted twice, none is posted twice."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.models import JobState
from bot.storage.jobs import JobRepository
from tests.bot.conftest import RELAXED, STYLES, custom_id


@pytest.mark.parametrize("kind", ["sandbox", "apimall", "wan26ai"])
async def test_restart_mid_render_delivers_once(world_factory: Any, kind: str) -> None:
    async with world_factory(kind) as world:
        await world.video(world.alice)
        await world.env.advance_time(7)  # submitted, rendering
        assert (await world.jobs(world.alice))[0].state in (JobState.SUBMITTED, JobState.RENDERING)
        await world.restart()
        await world.env.advance_time(200)
        assert len(world.results()) == 1
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.DELIVERED
        if world.server is not None:
            assert len(world.server.requests_to("generate")) == 1
        balance = await world.balance(world.alice)
        assert (balance.available, balance.held) == (420, 0)


@pytest.mark.parametrize("result_style", STYLES)
async def test_restart_between_post_and_record_does_not_post_twice(world_factory: Any, result_style: str) -> None:
    async with world_factory() as world:
        await world.video(world.alice)
        # Simulate a crash right after the result was posted, before the database learned of it.
        crashed = world.bot.services.runner

        async def crash_after_posting(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("power cut")

        crashed._finish_delivery = crash_after_posting  # type: ignore[method-assign]
        await world.env.advance_time(30)
        assert len(world.results()) == 1
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.DELIVERING
        world.env.errors.clear()

        await world.restart()
        await world.env.advance_time(120)
        assert len(world.results()) == 1  # found the earlier post instead of posting again
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.DELIVERED and job.result_message_id == world.results()[0].id
        assert (await world.balance(world.alice)).available == 420


async def test_crash_with_a_create_on_the_wire(world_factory: Any) -> None:
    """After a crash mid-create, apimall resends with the same key; wan26ai never resends."""
    async with world_factory("apimall") as world:
        await world.video(world.alice)
        [job] = await world.jobs(world.alice)
        # The state a crash leaves behind: the create was marked as possibly sent.
        await JobRepository(world.bot.db).update(job.id, submit_in_flight=True, submit_attempts=1)
        await world.restart()
        await world.env.advance_time(200)
        assert len(world.results()) == 1
        assert len({r.idempotency_key for r in world.server.requests_to("generate")}) == 1


async def test_crash_with_a_create_on_the_wire_wan26ai(world_factory: Any) -> None:
    async with world_factory("wan26ai") as world:
        await world.video(world.alice)
        [job] = await world.jobs(world.alice)
        await JobRepository(world.bot.db).update(job.id, submit_in_flight=True, submit_attempts=1)
        await world.restart()
        await world.env.advance_time(60)
        assert world.server.requests_to("generate") == []
        [job] = await world.jobs(world.alice)
        assert (job.state, job.error_code) == (JobState.FAILED, "submit_unconfirmed")
        assert (await world.balance(world.alice)).available == 500


@pytest.mark.parametrize("result_style", STYLES)
async def test_buttons_work_after_a_restart(world_factory: Any, result_style: str) -> None:
    async with world_factory() as world:
        await world.video(world.alice, prompt="a red fox in snow")
        await world.env.advance_time(30)
        [posted] = world.results()
        await world.restart(crash=False)

        reroll = await world.bob.click(posted, custom_id=custom_id(posted, "wan:reroll:"))
        assert reroll.ephemeral and "Job **#2** accepted" in reroll.response.content
        remix = await world.alice.click(posted, custom_id=custom_id(posted, "wan:remix:"))
        assert remix.modal is not None
        submitted = await world.alice.submit_modal(remix, {"prompt": "a red fox in snow, at night"})
        assert "Job **#3** accepted" in submitted.response.content
        await world.env.advance_time(30)

        jobs = {job.id: job for job in await world.jobs(world.alice) + await world.jobs(world.bob)}
        assert jobs[2].member_id == world.bob.id and jobs[2].spec.prompt == "a red fox in snow"
        assert jobs[2].parent_job_id == 1
        assert jobs[3].spec.prompt == "a red fox in snow, at night"
        assert len(world.results()) == 3
        assert (await world.balance(world.bob)).available == 420  # bob paid for his reroll


@pytest.mark.parametrize("result_style", STYLES)
async def test_delete_is_for_the_owner_or_a_moderator(world_factory: Any, result_style: str) -> None:
    async with world_factory(**RELAXED) as world:
        await world.video(world.alice)
        await world.video(world.alice)
        await world.env.advance_time(30)
        first, second = world.results()

        refused = await world.bob.click(first, custom_id=custom_id(first, "wan:delete:"))
        assert refused.ephemeral and "Only the member who made this video or a moderator" in refused.response.content
        assert len(world.results()) == 2

        own = await world.alice.click(first, custom_id=custom_id(first, "wan:delete:"))
        assert own.ephemeral and "Deleted" in own.response.content
        moderated = await world.mod.click(second, custom_id=custom_id(second, "wan:delete:"))
        assert "Deleted" in moderated.response.content
        assert world.results() == []


@pytest.mark.parametrize("result_style", STYLES)
async def test_a_busy_channel_does_not_hide_the_earlier_post(world_factory: Any, result_style: str) -> None:
    """Bystanders post 60 messages before the result and 60 after it; after a crash between posting
    and recording, the scan still finds the post instead of posting again. (Chatter on both sides:
    Discord pages ``after=`` from the oldest message, SimCord from the newest.)"""
    async with world_factory() as world:
        await world.video(world.alice)
        await world.env.advance_time(6)
        for index in range(60):
            await world.bob.send(world.channel, f"chatter {index}")

        async def crash_after_posting(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("power cut")

        world.bot.services.runner._finish_delivery = crash_after_posting  # type: ignore[method-assign]
        await world.env.advance_time(30)
        assert len(world.results()) == 1
        world.env.errors.clear()
        for index in range(60):
            await world.bob.send(world.channel, f"more chatter {index}")

        await world.restart()
        await world.env.advance_time(120)
        assert len(world.results()) == 1
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.DELIVERED and job.result_message_id == world.results()[0].id
