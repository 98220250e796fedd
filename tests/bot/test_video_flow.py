"""/video end to end: a member's command to a posted video, on the sandbox and both provider APIs."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.models import JobState
from tests.bot.conftest import STYLES, shown


@pytest.mark.parametrize("result_style", STYLES)
async def test_text_to_video_on_the_sandbox(world_factory: Any, result_style: str) -> None:
    async with world_factory() as world:
        result = await world.video(world.alice, duration="5", resolution="720p")
        assert result.ephemeral
        reply = result.response.content
        assert "Text → video · 5 s · 720p" in reply and "Price **80**" in reply and "**420**" in reply
        progress = world.public()[-1]
        assert "Queued" in progress.content and world.pings(progress) == ([], [], False)  # names alice, pings no one

        await world.env.advance_time(30)

        [posted] = world.results()
        embed = shown(posted)
        assert embed.card is (result_style == "card")
        assert embed.content.startswith(f"<@{world.alice.id}>, your video is ready.")
        assert world.pings(posted) == ([world.alice.id], [], False)
        [attachment] = posted.attachments
        assert attachment.filename == "sandbox.mp4" and attachment.size > 1000
        assert embed.media == [attachment.url]  # the card's gallery shows the uploaded file
        assert embed.buttons == [f"wan:{action}:1" for action in ("reroll", "remix", "report", "delete")]
        assert embed.description == "a lighthouse in a storm, cinematic"
        fields = {field.name: field.value for field in embed.fields}
        assert fields["Cost"] == "80 credits" and fields["Duration"] == "5 s" and "Render time" in fields
        assert "Sandbox" in (embed.footer.text or "")
        assert "done in" in world.public()[0].content and posted.jump_url in world.public()[0].content
        balance = await world.balance(world.alice)
        assert (balance.available, balance.held) == (420, 0)
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.DELIVERED and job.result_message_id == posted.id


@pytest.mark.parametrize("kind", ["wan26ai", "apimall"])
async def test_text_to_video_on_each_provider_api(world_factory: Any, kind: str) -> None:
    async with world_factory(kind) as world:
        prompt = await world.video(world.alice, duration="10", resolution="1080p")
        # 220 credits is above the default confirm_above (200): nothing reaches the provider until Confirm.
        assert "Confirm" in prompt.response.content and not world.server.requests_to("generate")
        await world.alice.click(prompt.response, label="Confirm")
        await world.env.advance_time(5)
        [create] = world.server.requests_to("generate")
        body = create.json
        assert body["prompt"] == "a lighthouse in a storm, cinematic"
        assert body["duration"] == "10" and body["resolution"] == "1080p"
        if kind == "wan26ai":
            assert body["model"] == "wan/2-6-text-to-video" and body["public"] is False
        else:
            assert (body["model"], body["type"]) == ("wan2-6", "text-to-video") and create.idempotency_key

        # The first status check waits for the provider's expected render time (3 min for 10 s at 1080p).
        await world.env.advance_time(240)
        [posted] = world.results()
        assert posted.attachments[0].filename.endswith(".mp4")
        assert (await world.balance(world.alice)).available == 500 - 220
        # A handful of status checks, not one per tick.
        assert 1 <= len(world.server.requests_to("status")) <= 4


async def test_image_to_video_hands_the_attachment_url_to_the_provider(world_factory: Any) -> None:
    async with world_factory("wan26ai") as world:
        await world.video(world.alice, prompt="make it move", image=("cat.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64))
        await world.env.advance_time(6)
        body = world.server.requests_to("generate")[0].json
        assert body["model"] == "wan/2-6-image-to-video"
        [url] = body["image_urls"]
        assert url.startswith("https://") and url.endswith("/cat.png")
        await world.env.advance_time(150)
        assert len(world.results()) == 1


async def test_video_to_video_sends_one_video_url_on_apimall(world_factory: Any) -> None:
    async with world_factory("apimall") as world:
        await world.video(world.alice, prompt="anime style", video_url="https://media.example/in.mp4", duration="5")
        await world.env.advance_time(6)
        body = world.server.requests_to("generate")[0].json
        assert body["type"] == "video-to-video" and body["video_url"] == "https://media.example/in.mp4"
        await world.env.advance_time(150)
        assert len(world.results()) == 1
