"""/credits, /jobs and the error handler, as members use them."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.domain.models import JobState


def fields(result: Any) -> dict[str, str]:
    return {field.name: field.value for field in result.response.embeds[0].fields}


async def test_credits_shows_balance_held_allowance_refill_and_entries(world_factory: Any) -> None:
    async with world_factory() as world:
        await world.video(world.alice, duration="10")  # 150 held
        result = await world.alice.slash(world.channel, "credits")
        assert result.ephemeral
        shown = fields(result)
        assert shown["Available"] == "350" and shown["Held by running jobs"] == "150"
        assert shown["Allowance"].startswith("500 per week")
        assert shown["Next refill"].startswith("<t:")
        assert "**job #1** · 150 credits · held (running)" in shown["Last entries"]
        assert "refill +500" in shown["Last entries"]


async def test_only_moderators_see_another_members_credits(world_factory: Any) -> None:
    async with world_factory() as world:
        refused = await world.bob.slash(world.channel, "credits", member=world.alice)
        assert refused.ephemeral and "Only moderators" in refused.response.content
        allowed = await world.mod.slash(world.channel, "credits", member=world.alice)
        assert fields(allowed)["Available"] == "500"
        assert "alice" in allowed.response.embeds[0].title


async def test_jobs_lists_and_cancels_queued_jobs(world_factory: Any) -> None:
    async with world_factory() as world:
        await world.video(world.alice, prompt="first")
        listing = await world.alice.slash(world.channel, "jobs")
        assert listing.ephemeral and "#1" in listing.response.embeds[0].description
        cancelled = await world.press(world.alice, listing.response.message, "wan:cancel:")
        assert "Cancelled job #1" in cancelled.response.content
        assert "80 credits are back" in cancelled.response.content
        await world.env.advance_time(30)
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.CANCELLED
        assert (await world.balance(world.alice)).available == 500
        assert world.results() == []
        assert "cancelled. 80 credits returned" in world.public()[0].content


async def test_jobs_cannot_cancel_once_sent(world_factory: Any) -> None:
    async with world_factory() as world:
        await world.video(world.alice)
        listing = await world.alice.slash(world.channel, "jobs")
        await world.env.advance_time(6)  # the loop has sent it meanwhile
        late = await world.press(world.alice, listing.response.message, "wan:cancel:")
        assert late.ephemeral and "can no longer be cancelled" in late.response.content


async def test_jobs_when_there_are_none(world_factory: Any) -> None:
    async with world_factory() as world:
        result = await world.alice.slash(world.channel, "jobs")
        assert result.ephemeral and "no jobs yet" in result.response.content


async def test_an_unexpected_error_gives_a_reference_and_no_traceback(
    world_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with world_factory() as world:

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("database on fire")

        world.bot.services.credits.overview = broken  # type: ignore[method-assign]
        with caplog.at_level(logging.ERROR):
            result = await world.alice.slash(world.channel, "credits")
        text = result.response.content
        assert result.ephemeral and "reference `" in text
        assert "database on fire" not in text and "Traceback" not in text
        ref = text.split("reference `")[1].split("`")[0]
        assert any(ref in record.getMessage() and record.exc_info for record in caplog.records)
        world.env.errors.clear()


async def test_the_demo_runs_offline() -> None:
    from bot.demo import run_demo

    lines: list[str] = []
    assert await run_demo(lines.append, render_seconds=5) == 0
    transcript = "\n".join(lines)
    assert "your video is ready" in transcript and "[file] sandbox.mp4" in transcript
    assert "Available: 420" in transcript
