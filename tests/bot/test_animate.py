"""Animate with Wan / Transform with Wan: a message's image or video to a posted video, the /video way."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.domain.models import JobState
from tests.bot.conftest import RELAXED, STYLES, World
from tests.bot.conftest import shown as read_result

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"0" * 64


async def _open(world: World, member: Any, message: Any, menu: str = "Animate with Wan") -> Any:
    return await member.context_menu(world.channel, menu, message)


def _watch_cdn(world: World) -> list[str]:
    """Every file the bot reads from Discord's (simulated) CDN, as discord.py's Attachment.read() would."""
    cdn = world.env.backend.cdn
    original, read = cdn.get, []

    def get(url: str) -> bytes | None:
        read.append(url)
        return original(url)

    cdn.get = get  # type: ignore[method-assign]
    return read


def _fields(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The modal's labels by their input's custom_id: the text, the hint and the input itself."""
    found = {}
    for label in modal["components"]:
        component = label["component"]
        found[component["custom_id"]] = {"text": label["label"], "description": label.get("description"), **component}
    return found


@pytest.mark.parametrize("result_style", STYLES)
async def test_a_member_animates_another_members_image(world_factory: Any, result_style: str) -> None:
    async with world_factory("wan26ai", **RELAXED) as world:
        posted = await world.bob.send(world.channel, "my cat, sleeping", attachments=[("cat.png", PNG)])
        read = _watch_cdn(world)

        shown = await _open(world, world.alice, posted)
        fields = _fields(shown.modal)
        assert shown.modal["title"] == "Animate with Wan"
        assert fields["prompt"]["max_length"] == 4000 and fields["prompt"]["placeholder"] == "my cat, sleeping"
        assert "4,000" in fields["prompt"]["description"] and "5,000" in fields["prompt"]["description"]
        assert "empty = 5" in fields["duration"]["placeholder"]
        assert "empty = 720p" in fields["resolution"]["placeholder"]

        answer = await world.alice.submit_modal(shown, {"prompt": "the cat wakes up and stretches"})
        assert answer.ephemeral and "Image → video · 5 s · 720p" in answer.response.content
        await world.env.advance_time(6)
        [create] = world.server.requests_to("generate")
        assert create.json["model"] == "wan/2-6-image-to-video"
        assert create.json["image_urls"] == [posted.attachments[0].url]
        assert create.json["prompt"] == "the cat wakes up and stretches"

        await world.env.advance_time(150)
        [result] = world.results()
        assert result.channel.id == world.channel.id
        assert world.pings(result) == ([world.alice.id], [], False)  # bob, the image's author, is not pinged
        made_from = {field.name: field.value for field in read_result(result).fields}["Made from"]
        assert made_from == f"[this message]({posted.jump_url})"
        assert read == []  # the member's file was never downloaded, only its URL handed on
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.DELIVERED
        assert (await world.balance(world.alice)).available == 500 - 80
        assert (await world.balance(world.bob)).available == 500


async def test_transform_takes_duration_and_resolution_from_the_modal(world_factory: Any) -> None:
    async with world_factory("apimall", **RELAXED) as world:
        posted = await world.bob.send(world.channel, "", attachments=[("clip.mp4", MP4)])
        shown = await _open(world, world.alice, posted, "Transform with Wan")
        fields = _fields(shown.modal)
        assert "placeholder" not in fields["prompt"] or fields["prompt"]["placeholder"] is None  # no text to offer
        assert "5 or 10" in fields["duration"]["description"]
        answer = await world.alice.submit_modal(
            shown, {"prompt": "anime style", "duration": "10", "resolution": "1080"}
        )
        assert "Video → video · 10 s · 1080p" in answer.response.content
        await world.env.advance_time(6)
        [create] = world.server.requests_to("generate")
        assert create.json["type"] == "video-to-video"
        assert posted.attachments[0].url in str(create.json)


async def test_an_image_link_preview_is_animated_by_its_url(world_factory: Any) -> None:
    async with world_factory("wan26ai", **RELAXED) as world:
        url = "https://images.example/dog.jpg"
        stored = world.env.backend.create_message(
            world.channel.id, world.bob.id, url, embeds=[{"type": "image", "url": url, "thumbnail": {"url": url}}]
        )
        message = world.channel.history(viewer=world.bob)[-1]
        assert message.id == stored.id
        shown = await _open(world, world.alice, message)
        await world.alice.submit_modal(shown, {"prompt": "the dog runs"})
        await world.env.advance_time(6)
        assert world.server.requests_to("generate")[0].json["image_urls"] == [url]


async def test_several_images_use_the_first_and_say_so(world_factory: Any) -> None:
    async with world_factory("wan26ai", **RELAXED) as world:
        posted = await world.bob.send(world.channel, "two", attachments=[("a.png", PNG), ("b.png", PNG)])
        shown = await _open(world, world.alice, posted)
        assert "First of 2 images used" in _fields(shown.modal)["prompt"]["description"]
        await world.alice.submit_modal(shown, {"prompt": "move"})
        await world.env.advance_time(6)
        assert world.server.requests_to("generate")[0].json["image_urls"] == [posted.attachments[0].url]


async def test_a_message_without_an_image_is_answered_privately(world_factory: Any) -> None:
    async with world_factory("wan26ai", **RELAXED) as world:
        posted = await world.bob.send(world.channel, "just words")
        answer = await _open(world, world.alice, posted)
        assert answer.modal is None and answer.ephemeral
        assert "needs a message with an image" in answer.response.content and "nothing was" in answer.response.content
        video = await _open(world, world.alice, posted, "Transform with Wan")
        assert "needs a message with a video" in video.response.content
        image_only = await world.bob.send(world.channel, "", attachments=[("cat.png", PNG)])
        assert (await _open(world, world.alice, image_only, "Transform with Wan")).modal is None
        assert not world.server.requests and (await world.balance(world.alice)).available == 500
        assert world.pings(world.public()[-1]) == ([], [], False)


async def test_refusals_through_the_menu_cost_nothing(world_factory: Any) -> None:
    async with world_factory("wan26ai", **RELAXED) as world:
        posted = await world.bob.send(world.channel, "cat", attachments=[("cat.png", PNG)])
        cases = [
            ({"prompt": "   "}, "prompt is empty"),
            ({"prompt": "go", "duration": "7"}, "5, 10 or 15"),
            ({"prompt": "go", "resolution": "4k"}, "720p or 1080p"),
        ]
        for values, expected in cases:
            shown = await _open(world, world.alice, posted)
            answer = await world.alice.submit_modal(shown, values)
            assert answer.ephemeral and expected in answer.response.content, answer.response.content
        # The same moderation as /video: a blocked member is refused before anything is held.
        await world.mod.slash(world.channel, "wan-mod block", member=world.alice)
        shown = await _open(world, world.alice, posted)
        blocked = await world.alice.submit_modal(shown, {"prompt": "go"})
        assert blocked.ephemeral and "blocked" in blocked.response.content.lower(), blocked.response.content
        await world.env.advance_time(10)
        assert not world.server.requests_to("generate")
        balance = await world.balance(world.alice)
        assert (balance.available, balance.held) == (500, 0)


async def test_above_the_threshold_the_menu_asks_to_confirm_like_video(world_factory: Any) -> None:
    async with world_factory("wan26ai") as world:  # default confirm_above: 200
        posted = await world.bob.send(world.channel, "cat", attachments=[("cat.png", PNG)])
        shown = await _open(world, world.alice, posted)
        prompt = await world.alice.submit_modal(shown, {"prompt": "go", "duration": "10", "resolution": "1080p"})
        assert "Confirm" in prompt.response.content and (await world.balance(world.alice)).held == 0
        await world.env.advance_time(5)
        assert not world.server.requests_to("generate")
        await world.alice.click(prompt.response, label="Confirm")
        await world.env.advance_time(240)
        [result] = world.results()
        made_from = {field.name: field.value for field in read_result(result).fields}["Made from"]
        assert posted.jump_url in made_from


async def test_the_menus_are_for_servers_only(world_factory: Any) -> None:
    async with world_factory() as world:
        menus = {c.name: c for c in world.bot.tree.get_commands(type=discord.AppCommandType.message)}
        assert menus["Animate with Wan"].guild_only and menus["Transform with Wan"].guild_only
        assert len(menus) <= 5  # Discord's limit on message commands per application


async def test_a_long_message_text_is_cut_to_the_placeholder_limit(world_factory: Any) -> None:
    async with world_factory(**RELAXED) as world:
        posted = await world.bob.send(world.channel, "word " * 60, attachments=[("cat.png", PNG)])
        shown = await _open(world, world.alice, posted)
        placeholder = _fields(shown.modal)["prompt"]["placeholder"]
        assert len(placeholder) == 100 and placeholder.endswith("…")


async def test_a_plain_http_image_link_is_refused_before_the_form(world_factory: Any) -> None:
    async with world_factory("wan26ai", **RELAXED) as world:
        url = "http://images.example/dog.jpg"
        world.env.backend.create_message(
            world.channel.id, world.bob.id, url, embeds=[{"type": "image", "url": url, "thumbnail": {"url": url}}]
        )
        message = world.channel.history(viewer=world.bob)[-1]
        answer = await _open(world, world.alice, message)
        assert answer.modal is None and answer.ephemeral and "only https links" in answer.response.content
        assert not world.server.requests and (await world.balance(world.alice)).available == 500


@pytest.mark.parametrize("result_style", STYLES)
async def test_in_review_mode_the_approved_result_still_links_its_source(world_factory: Any, result_style: str) -> None:
    async with world_factory(**RELAXED) as world:
        review = world.guild.create_text_channel("review")
        await world.admin.slash(world.channel, "wan-admin review on", channel=review)
        posted = await world.bob.send(world.channel, "cat", attachments=[("cat.png", PNG)])
        shown = await _open(world, world.alice, posted)
        await world.alice.submit_modal(shown, {"prompt": "the cat yawns"})
        await world.env.advance_time(30)
        assert world.results() == []
        [pending] = [m for m in review.history(viewer=world.mod) if m.components]
        await world.mod.click(pending, label="Approve")
        [result] = world.results()
        made_from = {field.name: field.value for field in read_result(result).fields}["Made from"]
        assert posted.jump_url in made_from and world.pings(result) == ([world.alice.id], [], False)


async def test_a_channel_where_the_bot_cannot_post_is_refused_before_the_form(world_factory: Any) -> None:
    async with world_factory(**RELAXED) as world:
        locked = world.guild.create_text_channel(
            "gallery", overwrites={world.guild.me: discord.PermissionOverwrite(attach_files=False)}
        )
        posted = await world.bob.send(locked, "cat", attachments=[("cat.png", PNG)])
        answer = await world.alice.context_menu(locked, "Animate with Wan", posted)
        assert answer.modal is None and answer.ephemeral and "missing Attach Files" in answer.response.content
        assert await world.jobs(world.alice) == []


async def test_transform_never_defaults_to_a_length_video_to_video_cannot_make(world_factory: Any) -> None:
    async with world_factory("apimall", requests={"default_duration": 15}, **RELAXED) as world:
        posted = await world.bob.send(world.channel, "", attachments=[("clip.mp4", MP4)])
        shown = await _open(world, world.alice, posted, "Transform with Wan")
        assert "Leave empty for 10" in _fields(shown.modal)["duration"]["description"]
        answer = await world.alice.submit_modal(shown, {"prompt": "anime style"})
        assert "Video → video · 10 s" in answer.response.content
