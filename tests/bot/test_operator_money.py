"""The operator's money, end to end on SimCord: budget caps count every render the provider account
paid for, and a create whose answer was lost cannot be cancelled into a task nobody follows."""

from __future__ import annotations

from typing import Any

from bot.assemble import create_bot
from bot.domain.models import JobState


async def admin(world: Any, command: str, **options: Any) -> Any:
    result = await world.admin.slash(world.channel, f"wan-admin {command}", **options)
    assert result.ephemeral
    return result


async def test_an_undeliverable_render_still_counts_against_the_budget(world_factory: Any) -> None:
    async with world_factory("apimall") as world:
        await admin(world, "budget", amount=100)
        other = world.guild.create_text_channel("more-videos")
        await world.video(world.alice)
        world.env.inject_error("POST", "/channels/*/messages", status=403, times=10)
        await world.env.advance_time(120)
        world.env.errors.clear()
        [job] = await world.jobs(world.alice)
        assert (job.state, job.error_code) == (JobState.FAILED, "delivery_failed")
        assert (await world.balance(world.alice)).available == 500  # the member got the credits back

        # The provider account paid for that render, so it still counts against the cap.
        refused = await world.bob.slash(other, "video", prompt="a lighthouse at night")
        assert refused.ephemeral and "budget is used up this month: 80 of 100" in refused.response.content
        assert await world.jobs(world.bob) == []
        [job] = await world.jobs(world.alice)
        assert (job.provider_charged, job.provider_refunded) == (80, 0)  # apimall's own figures, on the job

        shown = (await admin(world, "budget")).response.content
        assert "80 of 100 credits spent this month" in shown
        assert "80 of them given back to members" in shown
        assert "the provider reported 80 of its credits charged" in shown


async def test_what_counts_and_what_is_freed(world_factory: Any) -> None:
    async with world_factory("wan26ai", limits={"cooldown_seconds": 0}) as world:
        await world.video(world.alice, prompt="delivered, then refunded by a moderator")
        await world.env.advance_time(120)
        refund = await world.mod.slash(world.channel, "wan-mod refund", job=1, reason="glitch")
        assert "80 credits back" in refund.response.content

        await world.video(world.alice, prompt="the provider fails this one")
        await world.env.advance_time(10)
        world.server.fail(list(world.server.tasks)[-1], "GPU node lost")  # refunded by the provider
        await world.env.advance_time(120)

        listing_video = await world.video(world.alice, prompt="cancelled while queued")
        assert listing_video.ephemeral
        listing = await world.alice.slash(world.channel, "jobs")
        await world.press(world.alice, listing.response.message, "wan:cancel:")
        await world.env.advance_time(30)

        states = [job.state for job in reversed(await world.jobs(world.alice))]
        assert states == [JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED]
        stats = (await admin(world, "stats")).response.content
        assert "**80** credits spent on **1** videos" in stats
        assert "**80** given back to members" in stats
        budget = (await admin(world, "budget", amount=1000)).response.content
        assert "80 of 1,000 credits spent this month" in budget


async def test_a_create_waiting_to_be_resent_cannot_be_cancelled(world_factory: Any) -> None:
    async with world_factory("apimall") as world:
        world.server.inject("generate", drop=True)  # the task is made; its answer is lost
        world.server.inject("generate", status=429, retry_after=300)  # and the resend has to wait
        await world.video(world.alice)
        listing = await world.alice.slash(world.channel, "jobs")  # opened while it was queued
        await world.env.advance_time(12)
        assert len(world.server.requests_to("generate")) == 2 and len(world.server.tasks) == 1
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.ACCEPTED

        late = await world.press(world.alice, listing.response.message, "wan:cancel:")
        assert late.ephemeral and "can't be cancelled" in late.response.content
        assert "may already be making it" in late.response.content
        again = await world.alice.slash(world.channel, "jobs")
        assert again.response.message.components == []  # no Cancel button for it any more

        await world.env.advance_time(500)
        creates = world.server.requests_to("generate")
        assert len({create.idempotency_key for create in creates}) == 1 and len(world.server.tasks) == 1
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.DELIVERED and len(world.results()) == 1
        assert (await world.balance(world.alice)).available == 420


async def test_a_render_finished_while_the_bot_was_down_is_posted_not_timed_out(world_factory: Any) -> None:
    async with world_factory("wan26ai", provider={"job_timeout_minutes": 5}) as world:
        await world.video(world.alice)
        await world.env.advance_time(7)  # sent; the render takes 40 s
        await world.bot.close()  # the bot is down for an hour
        await world.env.advance_time(3600)
        world.bot = create_bot(world.config)
        await world.env.restart_bot(world.bot)
        await world.env.advance_time(30)

        [job] = await world.jobs(world.alice)
        assert job.state is JobState.DELIVERED and len(world.results()) == 1
        assert world.pings(world.results()[0]) == ([world.alice.id], [], False)
        assert (await world.balance(world.alice)).available == 420
