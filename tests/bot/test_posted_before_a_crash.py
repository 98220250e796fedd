"""After a crash between posting a result and recording it, the bot finds its post in a busy channel.

Real Discord answers ``GET /channels/{id}/messages?after=X&limit=N`` with the N messages right
after X (discord.py pages forward on that). SimCord 3.2 answers with the newest N after X,
which hides what a busy channel does to a bounded scan, so these tests swap in the real rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from simcord.http import router
from simcord.http.routes import messages as message_routes

from bot.domain.models import JobState
from tests.bot.conftest import RELAXED, STYLES


@pytest.fixture
def discord_after_semantics(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    original = message_routes.get_history

    def get_history(ctx: Any) -> Any:
        if "after" not in ctx.params or "before" in ctx.params or "around" in ctx.params:
            return original(ctx)
        channel_id = ctx.int_arg("channel_id")
        ctx.require_channel_permissions(channel_id)
        after, limit = int(ctx.params["after"]), int(ctx.params.get("limit", 50))
        visible = sorted(
            (m for m in ctx.backend.messages[channel_id].values() if not m.is_ephemeral and m.id > after),
            key=lambda m: m.id,
        )
        return [message_routes.message_response(ctx, m) for m in reversed(visible[:limit])]

    routes = [
        (template, get_history if handler is original else handler) for template, handler in router._ROUTES["GET"]
    ]
    monkeypatch.setitem(router._ROUTES, "GET", routes)
    yield


async def chat(world: Any, count: int) -> None:
    for index in range(count):
        await world.bob.send(world.channel, f"chatter {index}")


@pytest.mark.parametrize("result_style", STYLES)
@pytest.mark.parametrize("chatter", ["before the post", "after the post"])
async def test_a_post_among_a_burst_of_messages_is_found_not_posted_again(
    world_factory: Any, discord_after_semantics: None, chatter: str, result_style: str
) -> None:
    async with world_factory(**RELAXED) as world:
        await world.video(world.alice)

        async def crash_after_posting(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("power cut")

        world.bot.services.runner._finish_delivery = crash_after_posting  # type: ignore[method-assign]
        await world.env.advance_time(6)  # submitted; the sandbox render ends at 10 s
        # A busy minute (200 members' progress messages look the same to the scan): more than a
        # page of messages between the render's end and the post, or between the post and the scan.
        if chatter == "before the post":
            await chat(world, 120)
        await world.env.advance_time(30)
        assert len(world.results()) == 1
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.DELIVERING
        world.env.errors.clear()
        if chatter == "after the post":
            await chat(world, 150)

        await world.restart()
        await world.env.advance_time(60)
        assert len(world.results()) == 1  # found behind the chatter, not posted again
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.DELIVERED and job.result_message_id == world.results()[0].id


async def test_an_end_notice_posted_before_a_crash_is_not_posted_again(
    world_factory: Any, discord_after_semantics: None
) -> None:
    async with world_factory(**RELAXED) as world:
        await world.video(world.alice, prompt="a storm at sea sandbox:fail")
        repo = world.bot.services.runner.jobs
        record = repo.update

        async def crash_when_recording_the_notice(job_id: int, **fields: Any) -> bool:
            if fields.get("notified"):
                raise RuntimeError("power cut")
            return await record(job_id, **fields)

        repo.update = crash_when_recording_the_notice  # type: ignore[method-assign]
        await world.env.advance_time(30)
        assert len(notices(world, 1)) == 1
        world.env.errors.clear()

        await world.restart()
        await world.env.advance_time(120)
        assert len(notices(world, 1)) == 1  # found, not posted again
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.FAILED and job.notified
        assert (await world.balance(world.alice)).available == 500


def notices(world: Any, job_id: int) -> list[Any]:
    return [message for message in world.public() if f"your job **#{job_id}**" in message.content]
