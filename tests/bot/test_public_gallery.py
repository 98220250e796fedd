"""wan26ai's "public" flag: false unless the server's admins turn it on with /wan-admin public."""

from __future__ import annotations

from typing import Any

from bot.domain.moderation import AuditAction


def public_flags(world: Any) -> list[Any]:
    """What each create the fake provider received said about "public"."""
    assert world.server is not None
    return [request.json.get("public") for request in world.server.requests_to("generate")]


async def test_videos_are_public_at_wan26ai_only_after_an_admin_turns_it_on(world_factory: Any) -> None:
    async with world_factory("wan26ai") as world:
        await world.video(world.alice, prompt="before")
        await world.env.advance_time(120)

        turned_on = await world.admin.slash(world.channel, "wan-admin public", state="on")
        assert turned_on.ephemeral and "may appear in wan26ai's public galleries" in turned_on.response.content
        await world.video(world.alice, prompt="after on")
        await world.env.advance_time(120)

        turned_off = await world.admin.slash(world.channel, "wan-admin public", state="off")
        assert turned_off.ephemeral and "no longer appear" in turned_off.response.content
        await world.video(world.alice, prompt="after off")
        await world.env.advance_time(120)

        assert public_flags(world) == [False, True, False]
        assert len(world.results()) == 3
        settings = [e for e in await world.storage.audit.entries(world.guild.id) if e.action is AuditAction.SETTING]
        assert [(e.actor_id, e.detail) for e in settings] == [
            (world.admin.id, "public gallery on"),
            (world.admin.id, "public gallery off"),
        ]


async def test_the_switch_says_it_changes_nothing_for_a_provider_without_galleries(world_factory: Any) -> None:
    async with world_factory("apimall") as world:
        result = await world.admin.slash(world.channel, "wan-admin public", state="on")
        assert result.ephemeral and "has no public galleries" in result.response.content
        await world.video(world.alice)
        await world.env.advance_time(120)
        [create] = world.server.requests_to("generate")
        assert "public" not in create.json
