"""Every reply that lists things stays inside Discord's size limits: long lists end in "… and N
more" instead of a refused message. SimCord enforces Discord's limits (2,000 characters of
content, 1,024 per field, 4,096 per description, 6,000 per embed, 25 fields, 5 action rows), so a
reply over any of them fails exactly as it would on Discord; the lengths are asserted as well."""

from __future__ import annotations

from typing import Any

import discord

from bot.domain.moderation import RuleKind
from tests.bot.conftest import World


def embed_size(embed: discord.Embed) -> int:
    parts = [embed.title, embed.description, embed.footer.text, embed.author.name]
    parts += [text for field in embed.fields for text in (field.name, field.value)]
    return sum(len(part or "") for part in parts)


def assert_within_limits(embed: discord.Embed) -> None:
    assert len(embed.fields) <= 25 and embed_size(embed) <= 6000
    assert len(embed.description or "") <= 4096 and len(embed.title or "") <= 256
    assert all(len(field.value or "") <= 1024 and len(field.name or "") <= 256 for field in embed.fields)


async def many_channels(world: World, count: int) -> list[int]:
    """``count`` allowed channels, set up through the admin service (the command is what is tested)."""
    ids = [world.guild.create_text_channel(f"room-{n}").id for n in range(count)]
    for channel_id in ids:
        await world.bot.services.admin.add_channel(world.guild.id, channel_id, actor_id=world.admin.id)
    return ids


async def test_allowance_show_with_many_roles_and_channels_lists_what_fits(world_factory: Any) -> None:
    async with world_factory() as world:
        for n in range(45):
            role = world.guild.create_role(f"tier-{n}")
            await world.bot.services.admin.set_role_allowance(world.guild.id, role.id, 100 + n, actor_id=world.admin.id)
        await many_channels(world, 60)

        shown = await world.admin.slash(world.channel, "wan-admin allowance show")

        assert shown.ephemeral
        [embed] = shown.response.embeds
        assert_within_limits(embed)
        fields = {field.name: field.value for field in embed.fields}
        roles = fields["Role allowances (highest wins)"]
        assert roles.startswith("<@&") and ": 144" in roles  # highest first
        assert "… and " in roles and " more" in roles
        assert "… and " in fields["/video allowed in"]


async def test_channels_add_and_list_past_eighty_channels(world_factory: Any) -> None:
    async with world_factory() as world:
        await many_channels(world, 90)

        added = await world.admin.slash(world.channel, "wan-admin channels add", channel=world.channel)
        listed = await world.admin.slash(world.channel, "wan-admin channels list")

        for reply in (added, listed):
            assert reply.ephemeral
            text = reply.response.content
            assert len(text) <= 2000 and "… and " in text and "something went wrong" not in text
        assert "/video now works in" in added.response.content
        assert world.channel.id in await world.bot.services.admin.allowed_channels(world.guild.id)


async def test_a_member_refused_outside_many_allowed_channels_is_told_so(world_factory: Any) -> None:
    async with world_factory() as world:
        await many_channels(world, 120)

        refused = await world.video(world.alice)

        assert refused.ephemeral
        text = refused.response.content
        assert text.startswith("Videos are made in <#") and "… and " in text and "Nothing was charged" in text
        assert len(text) <= 2000
        assert await world.jobs(world.alice) == []


async def test_rules_list_with_the_most_and_longest_rules_fits(world_factory: Any) -> None:
    async with world_factory() as world:
        rules = world.bot.services.rules
        for n in range(200):
            await rules.add(
                world.guild.id, RuleKind.PATTERN, f"{n:03d}" + "[a-z]" * 39, actor_id=world.mod.id, reason=None
            )

        listed = await world.mod.slash(world.channel, "wan-mod rules list")

        [embed] = listed.response.embeds
        assert_within_limits(embed)
        assert "… and " in (embed.description or "")
