"""When a job cannot deliver, the member is told why and sees the credits come back."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.models import JobState
from tests.bot.conftest import STYLES, shown


async def the_job(world: Any) -> Any:
    [job] = await world.jobs(world.alice)
    return job


async def test_failed_render_returns_the_credits_and_says_why(world_factory: Any) -> None:
    async with world_factory("wan26ai") as world:
        await world.video(world.alice)
        await world.env.advance_time(10)
        task_id = next(iter(world.server.tasks))
        world.server.fail(task_id, "GPU node lost")
        await world.env.advance_time(120)
        job = await the_job(world)
        assert job.state is JobState.FAILED and job.notified
        notice = world.public()[-1]
        assert (
            "failed" in notice.content
            and "GPU node lost" in notice.content
            and "**80** credits are back" in notice.content
        )
        assert world.pings(notice) == ([world.alice.id], [], False)
        assert "returned" in world.public()[0].content  # the progress message says so too
        assert (await world.balance(world.alice)).available == 500
        assert world.results() == []


async def test_moderation_refusal_451_returns_the_credits(world_factory: Any) -> None:
    async with world_factory("apimall") as world:
        world.server.inject("generate", status=451, error_code="content_policy", error_message="blocked")
        await world.video(world.alice, prompt="something the provider refuses")
        await world.env.advance_time(10)
        job = await the_job(world)
        assert job.state is JobState.REFUSED
        assert "content rules refused" in world.public()[-1].content
        assert (await world.balance(world.alice)).available == 500


async def test_wan26ai_moderation_failure_is_a_refusal(world_factory: Any) -> None:
    async with world_factory("wan26ai") as world:
        await world.video(world.alice)
        await world.env.advance_time(10)
        world.server.fail(next(iter(world.server.tasks)), "Prompt violates content policy")
        await world.env.advance_time(120)
        assert (await the_job(world)).state is JobState.REFUSED
        assert (await world.balance(world.alice)).available == 500


async def test_rate_limited_create_is_retried_after_retry_after(world_factory: Any) -> None:
    async with world_factory("apimall") as world:
        world.server.inject("generate", status=429, retry_after=30)
        await world.video(world.alice)
        await world.env.advance_time(10)
        assert len(world.server.requests_to("generate")) == 1
        await world.env.advance_time(20)  # Retry-After not yet over at 29 s... then over
        await world.env.advance_time(150)
        creates = world.server.requests_to("generate")
        assert len(creates) == 2 and creates[0].idempotency_key == creates[1].idempotency_key
        assert len(world.results()) == 1


async def test_lost_create_answer_on_apimall_is_retried_with_the_same_key(world_factory: Any) -> None:
    async with world_factory("apimall") as world:
        world.server.inject("generate", drop=True)  # the task is created, the answer is lost
        await world.video(world.alice)
        await world.env.advance_time(200)
        creates = world.server.requests_to("generate")
        assert len(creates) == 2 and len({c.idempotency_key for c in creates}) == 1
        assert len(world.server.tasks) == 1  # the provider made one task, not two
        assert len(world.results()) == 1
        assert (await world.balance(world.alice)).available == 420


async def test_lost_create_answer_on_wan26ai_is_never_resent(world_factory: Any) -> None:
    async with world_factory("wan26ai") as world:
        world.server.inject("generate", drop=True)
        await world.video(world.alice)
        await world.env.advance_time(200)
        assert len(world.server.requests_to("generate")) == 1  # no second paid task
        job = await the_job(world)
        assert (job.state, job.error_code) == (JobState.FAILED, "submit_unconfirmed")
        assert "did not confirm" in world.public()[-1].content
        assert (await world.balance(world.alice)).available == 500


async def test_operator_account_out_of_credits(world_factory: Any) -> None:
    async with world_factory("wan26ai") as world:
        world.server.inject("generate", status=402, error_message="Insufficient credits")
        await world.video(world.alice)
        await world.env.advance_time(10)
        job = await the_job(world)
        assert (job.state, job.error_code) == (JobState.FAILED, "provider_out_of_credits")
        assert "needs attention from the operator" in world.public()[-1].content
        assert (await world.balance(world.alice)).available == 500


async def test_render_that_never_finishes_times_out(world_factory: Any) -> None:
    async with world_factory("apimall", provider={"job_timeout_minutes": 5}) as world:
        await world.video(world.alice)
        await world.env.advance_time(10)
        world.server.set_render_seconds(next(iter(world.server.tasks)), 10_000)
        await world.env.advance_time(6 * 60)
        job = await the_job(world)
        assert job.state is JobState.TIMED_OUT
        assert "timed out" in world.public()[-1].content
        assert (await world.balance(world.alice)).available == 500


@pytest.mark.parametrize("result_style", STYLES)
async def test_result_over_the_upload_limit_is_posted_as_a_link(world_factory: Any, result_style: str) -> None:
    async with world_factory("apimall", server={"file_size": 11 * 1_048_576}) as world:
        assert world.bot.get_guild(world.guild.id).filesize_limit < 11 * 1_048_576
        await world.video(world.alice)
        await world.env.advance_time(200)
        [posted] = world.results()
        assert posted.attachments == []
        # The card (or the classic message) says why there is no file, and links the provider's video.
        assert "/files/" in shown(posted).content and "upload limit" in shown(posted).content
        assert shown(posted).url and "/files/" in shown(posted).url and shown(posted).media == []
        assert (await world.balance(world.alice)).available == 420  # a link is a delivery


@pytest.mark.parametrize("result_style", STYLES)
async def test_everyone_here_and_roles_in_a_prompt_ping_nobody(world_factory: Any, result_style: str) -> None:
    async with world_factory() as world:
        role = world.guild.create_role("Subscribers", mentionable=True)
        prompt = f"@everyone @here <@&{role.id}> <@{world.bob.id}> look at this"
        await world.video(world.alice, prompt=prompt)
        await world.env.advance_time(30)
        posted = world.results()
        assert len(posted) == 1
        for message in world.public():
            users, roles, everyone = world.pings(message)
            assert roles == [] and not everyone and world.bob.id not in users
        assert world.pings(posted[0]) == ([world.alice.id], [], False)


async def test_a_failing_discord_post_is_retried(world_factory: Any) -> None:
    async with world_factory() as world:
        await world.video(world.alice)
        world.env.inject_error("POST", "/channels/*/messages", status=500)
        await world.env.advance_time(60)
        assert len(world.results()) == 1
        assert (await the_job(world)).state is JobState.DELIVERED
        world.env.errors.clear()


async def test_channel_gone_releases_the_credits(world_factory: Any) -> None:
    async with world_factory() as world:
        await world.video(world.alice)
        world.env.inject_error("POST", "/channels/*/messages", status=403, times=10)
        await world.env.advance_time(60)
        job = await the_job(world)
        assert (job.state, job.error_code) == (JobState.FAILED, "delivery_failed")
        assert (await world.balance(world.alice)).available == 500
        world.env.errors.clear()
