"""Every refusal is an ephemeral message saying what to change; it costs nothing and calls no provider."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.conftest import RELAXED

PNG = ("cat.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64)
MP4 = ("clip.mp4", b"\x00\x00\x00\x20ftypisom" + b"0" * 64)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"prompt": " "}, "The prompt is empty"),
        ({"prompt": "a cat\x00 surfing"}, "The prompt contains a NUL character"),
        ({"image_url": "https://a.example/cat\x00.png"}, "`image_url` contains a NUL character"),
        ({"image": PNG, "video": MP4}, "not both"),
        ({"video": MP4, "duration": "15"}, "Pick 5 or 10"),
        ({"image": MP4}, "Put videos in the `video` option"),
        ({"video": PNG}, "must be a video file"),
        ({"image_url": "http://insecure.example/cat.png"}, "must be an https:// link"),
        ({"video_url": "ftp://files.example/in.mp4"}, "must be an https:// link"),
        ({"image": PNG, "image_url": "https://a.example/b.png"}, "not both"),
        ({"duration": "15", "resolution": "1080p", "prompt": "x", "_times": 2}, "costs 325 credits"),
    ],
)
async def test_refusal_is_private_free_and_never_reaches_the_provider(
    world_factory: Any, options: dict[str, Any], says: str
) -> None:
    options = dict(options)  # the parameter is shared by both backends' runs: never mutate it
    async with world_factory("apimall", **RELAXED) as world:
        times = options.pop("_times", 1)
        for _ in range(times):
            result = await world.video(world.alice, **options)
        assert result.ephemeral
        assert says in result.response.content
        await world.env.advance_time(30)
        expected_jobs = times - 1  # only the insufficient-balance case has an earlier, accepted job
        assert len(await world.jobs(world.alice)) == expected_jobs
        assert len(world.server.requests_to("generate")) == expected_jobs
        balance = await world.balance(world.alice)
        assert balance.available + balance.held == 500
        assert all("Job #" not in m.content for m in world.public()[expected_jobs:])


async def test_insufficient_balance_names_price_balance_and_what_to_do(world_factory: Any) -> None:
    async with world_factory(**RELAXED) as world:
        await world.video(world.alice, duration="15", resolution="1080p")  # 325, leaves 175
        result = await world.video(world.alice, duration="10", resolution="1080p")  # 220
        text = result.response.content
        assert result.ephemeral
        assert "costs 220 credits" in text and "175 available" in text and "325 more are held" in text
        assert "720p" in text  # what to change


async def test_no_video_where_the_bot_cannot_post(world_factory: Any) -> None:
    import discord

    async with world_factory() as world:
        locked = world.guild.create_text_channel(
            "announcements", overwrites={world.guild.me: discord.PermissionOverwrite(attach_files=False)}
        )
        result = await world.alice.slash(locked, "video", prompt="a cat")
        assert result.ephemeral and "missing Attach Files" in result.response.content
        assert await world.jobs(world.alice) == []
