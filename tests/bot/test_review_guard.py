"""The review channel must be one the bot can post in: `/wan-admin review on` refuses one it cannot
use, and if it becomes unusable later, finished videos wait for review and the admins are told,
instead of each job failing with a message that blames the member's channel."""

from __future__ import annotations

from typing import Any

from bot.domain.models import JobState
from tests.bot.channels import bot_overwrite
from tests.bot.conftest import RELAXED, World
from tests.bot.test_review_flow import review_messages


def said(world: World, channel: Any) -> list[str]:
    return [m.content for m in channel.history(viewer=world.admin) if not m.flags.ephemeral]


async def test_review_on_refuses_a_channel_the_bot_cannot_post_in(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        review = world.guild.create_text_channel("review")
        bot_overwrite(world, review, attach_files=False)
        result = await world.admin.slash(world.channel, "wan-admin review on", channel=review)
        assert result.ephemeral
        assert "Attach Files" in result.response.content and "Review mode was not changed" in result.response.content
        assert not (await world.bot.services.moderation.settings(world.guild.id)).review_enabled
        await world.video(world.alice)
        await world.env.advance_time(200)
        assert len(world.results()) == 1  # posted directly, as before


async def test_an_unusable_review_channel_makes_videos_wait_and_tells_the_admins(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        admin_channel = world.guild.create_text_channel("bot-admin")
        await world.admin.slash(world.channel, "wan-admin admin-channel", channel=admin_channel)
        review = world.guild.create_text_channel("review")
        await world.admin.slash(world.channel, "wan-admin review on", channel=review)
        bot_overwrite(world, review, send_messages=False)  # later, someone breaks the review channel

        for index in range(2):
            await world.video(world.alice, prompt=f"a lighthouse, take {index}")
        await world.env.advance_time(600)
        jobs = await world.jobs(world.alice)
        assert [job.state for job in jobs] == [JobState.DELIVERING] * 2  # waiting, not failed
        assert (await world.balance(world.alice)).held == 160
        assert not any("could not be posted" in text for text in said(world, world.channel))
        [told] = [text for text in said(world, admin_channel) if "review channel" in text]
        assert f"<#{review.id}>" in told and "Send Messages" in told

        bot_overwrite(world, review)  # fixed
        await world.env.advance_time(900)
        assert len(review_messages(world, review)) == 2
        assert [job.state for job in await world.jobs(world.alice)] == [JobState.DELIVERED] * 2
        assert len([text for text in said(world, admin_channel) if "review channel" in text]) == 1
