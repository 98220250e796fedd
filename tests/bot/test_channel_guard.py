"""Channels the bot cannot post in are refused before anything is held or sent: private threads,
locked threads, removed permissions; and a channel whose deliveries keep failing stops taking jobs."""

from __future__ import annotations

from typing import Any

import discord

from bot.domain.models import JobState
from bot.ui.channels import custom_ids
from tests.bot.channels import bot_overwrite, thread_in
from tests.bot.conftest import RELAXED, World


def results_in(world: World, channel: Any) -> list[discord.Message]:
    return [
        m
        for m in channel.history(viewer=world.alice)
        if not m.flags.ephemeral and any(custom_id.startswith("wan:reroll:") for custom_id in custom_ids(m))
    ]


async def nothing_happened(world: World) -> None:
    await world.env.advance_time(120)
    assert await world.jobs(world.alice) == []
    assert world.server is not None and world.server.requests_to("generate") == []
    balance = await world.balance(world.alice)
    assert (balance.available, balance.held) == (500, 0)


async def test_private_thread_without_the_bot_is_refused_before_anything_is_held(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        thread = thread_in(world, owner=world.alice)
        result = await world.alice.slash(thread, "video", prompt="a cat on a roof")
        assert result.ephemeral
        text = result.response.content
        assert "private thread" in text and "add me" in text.lower() and "Nothing was charged" in text
        await nothing_happened(world)


async def test_private_thread_with_the_bot_in_it_gets_its_video(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        thread = thread_in(world, owner=world.alice, with_bot=True)
        result = await world.alice.slash(thread, "video", prompt="a cat on a roof")
        assert "accepted" in result.response.content
        await world.env.advance_time(200)
        assert len(results_in(world, thread)) == 1
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.DELIVERED


async def test_private_thread_is_fine_when_the_bot_has_manage_threads(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        thread = thread_in(world, owner=world.alice, manage_threads=True)
        await world.alice.slash(thread, "video", prompt="a cat on a roof")
        await world.env.advance_time(200)
        assert len(results_in(world, thread)) == 1


async def test_locked_thread_is_refused(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        thread = thread_in(world, owner=world.alice, private=False)
        world.env.backend.edit_channel(thread.id, {}, thread_metadata={"archived": True, "locked": True})
        result = await world.alice.slash(thread, "video", prompt="a cat on a roof")
        assert result.ephemeral and "locked" in result.response.content
        await nothing_happened(world)


async def test_thread_without_send_messages_in_threads_is_refused(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        thread = thread_in(world, owner=world.alice, private=False, send_messages_in_threads=False)
        result = await world.alice.slash(thread, "video", prompt="a cat on a roof")
        assert result.ephemeral and "Send Messages in Threads" in result.response.content
        await nothing_happened(world)


async def test_reroll_in_a_private_thread_the_bot_was_removed_from_is_refused(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        thread = thread_in(world, owner=world.alice, with_bot=True)
        await world.alice.slash(thread, "video", prompt="a cat on a roof")
        await world.env.advance_time(200)
        [posted] = results_in(world, thread)
        world.env.backend.remove_thread_member(thread.id, world.bot.user.id)
        result = await world.press(world.alice, posted, "wan:reroll:")
        assert result.ephemeral and "private thread" in result.response.content
        await world.env.advance_time(200)
        assert len(await world.jobs(world.alice)) == 1
        assert world.server is not None and len(world.server.requests_to("generate")) == 1


def admin_messages(world: World, channel: Any) -> list[str]:
    return [m.content for m in channel.history(viewer=world.admin) if not m.flags.ephemeral]


async def test_a_channel_whose_deliveries_keep_failing_stops_taking_jobs_until_resumed(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        admin_channel = world.guild.create_text_channel("bot-admin")
        await world.admin.slash(world.channel, "wan-admin admin-channel", channel=admin_channel)
        for index in range(3):
            await world.video(world.alice, prompt=f"a lighthouse, take {index}")
        # While they render, someone takes the bot's Send Messages away in the channel.
        bot_overwrite(world, world.channel, send_messages=False)
        await world.env.advance_time(200)
        jobs = await world.jobs(world.alice)
        assert [job.error_code for job in jobs] == ["delivery_failed"] * 3
        [told] = [text for text in admin_messages(world, admin_channel) if "paused" in text]
        assert f"<#{world.channel.id}>" in told and "/wan-admin channels resume" in told

        # The permission comes back, but nobody has resumed the channel: still refused, at no cost.
        bot_overwrite(world, world.channel)
        result = await world.video(world.alice)
        assert result.ephemeral and "paused" in result.response.content
        assert "Nothing was charged" in result.response.content
        await world.env.advance_time(60)
        assert len(await world.jobs(world.alice)) == 3
        assert world.server is not None and len(world.server.requests_to("generate")) == 3
        assert (await world.balance(world.alice)).available == 500
        assert len([text for text in admin_messages(world, admin_channel) if "paused" in text]) == 1

        resumed = await world.admin.slash(world.channel, "wan-admin channels resume", channel=world.channel)
        assert resumed.ephemeral and "takes videos again" in resumed.response.content
        [entry] = [e for e in await world.storage.audit.entries(world.guild.id) if "resumed" in (e.detail or "")]
        assert entry.actor_id == world.admin.id
        await world.video(world.alice)
        await world.env.advance_time(200)
        assert len(world.results()) == 1
        assert (await world.balance(world.alice)).available == 420


async def test_a_successful_post_resets_the_failure_count(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        for round_ in range(2):
            for index in range(2):
                await world.video(world.alice, prompt=f"round {round_} take {index}")
            bot_overwrite(world, world.channel, send_messages=False)
            await world.env.advance_time(200)
            bot_overwrite(world, world.channel)
            await world.video(world.alice, prompt=f"round {round_} works")
            await world.env.advance_time(200)
        # Two failures, a post, two failures, a post: never three in a row, never paused.
        result = await world.video(world.alice, prompt="still taking jobs")
        assert "accepted" in result.response.content


async def test_a_deleted_thread_pauses_and_the_admins_hear_once(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        admin_channel = world.guild.create_text_channel("bot-admin")
        await world.admin.slash(world.channel, "wan-admin admin-channel", channel=admin_channel)
        thread = thread_in(world, owner=world.alice, private=False)
        for index in range(4):
            await world.alice.slash(thread, "video", prompt=f"a lighthouse, take {index}")
        world.env.backend.delete_channel(thread.id)  # the thread is deleted while they render
        await world.env.advance_time(300)
        jobs = await world.jobs(world.alice)
        assert [job.error_code for job in jobs] == ["delivery_failed"] * 4
        assert (await world.balance(world.alice)).available == 500
        told = [text for text in admin_messages(world, admin_channel) if "paused" in text]
        assert len(told) == 1 and f"<#{thread.id}>" in told[0]


async def test_an_archived_unlocked_thread_still_gets_its_video(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        thread = thread_in(world, owner=world.alice, private=False)
        world.env.backend.edit_channel(thread.id, {}, thread_metadata={"archived": True})
        result = await world.alice.slash(thread, "video", prompt="a cat on a roof")
        assert "accepted" in result.response.content  # posting in it reopens it
        await world.env.advance_time(200)
        assert len(results_in(world, thread)) == 1
