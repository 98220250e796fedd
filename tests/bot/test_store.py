"""Credit packs bought in Discord's store: credited exactly once, consumed after, taken back on revoke."""

from __future__ import annotations

from typing import Any

import discord

from tests.bot.conftest import RELAXED, World

SKU_ID = 1_300_000_000_000_000_001
PACK = 1000
STORE = {"store": {"packs": {str(SKU_ID): PACK}}}


async def _sku(world: World) -> Any:
    # This period's allowance refill first: it tops up to the allowance, so a pack bought before
    # the member's first refill of the period would count toward it (see the README's store section).
    for member in (world.alice, world.bob):
        await world.balance(member)
    return world.env.create_sku("1,000 Wan credits", type=discord.SKUType.consumable, id=SKU_ID)


async def _available(world: World, member: Any) -> int:
    return (await world.balance(member)).available


def _consumes(world: World) -> list[Any]:
    return [r for r in world.env.http_requests if r.method == "POST" and r.path.endswith("/consume")]


async def _export(world: World) -> list[list[str]]:
    result = await world.admin.slash(world.channel, "wan-admin export")
    data = await result.response.attachments[0].read()
    return [line.split(",") for line in data.decode().splitlines()[1:]]


async def test_a_pack_bought_in_the_server_is_credited_once_then_consumed(world_factory: Any) -> None:
    async with world_factory(**STORE) as world:
        sku = await _sku(world)
        entitlement = await world.env.grant_entitlement(sku, user=world.alice, guild=world.guild)
        assert await _available(world, world.alice) == 500 + PACK
        assert entitlement.snapshot().consumed
        assert await _available(world, world.bob) == 500

        # Discord replays the event; the credit is not paid again and nothing is consumed twice.
        await entitlement.replay_create()
        await entitlement.replay_create()
        assert await _available(world, world.alice) == 500 + PACK
        assert len(_consumes(world)) == 1

        kinds = [row[3] for row in await _export(world)]
        assert "purchase" in kinds and "grant" not in kinds


async def test_a_restart_between_credit_and_consume_pays_once_and_consumes_on_start_up(world_factory: Any) -> None:
    async with world_factory(**STORE) as world:
        sku = await _sku(world)
        world.env.inject_error("POST", "/applications/*/entitlements/*/consume", status=500, times=None)
        entitlement = await world.env.grant_entitlement(sku, user=world.alice, guild=world.guild)
        assert await _available(world, world.alice) == 500 + PACK  # credit first…
        assert not entitlement.snapshot().consumed  # …the consume failed

        world.env.backend.faults.clear()
        await world.restart()  # the process dies before any retry
        await world.env.advance_time(1)
        assert entitlement.snapshot().consumed  # start-up finished the consume
        await entitlement.replay_create()
        assert await _available(world, world.alice) == 500 + PACK


async def test_a_failed_consume_is_retried_until_it_succeeds(world_factory: Any) -> None:
    async with world_factory(**STORE) as world:
        sku = await _sku(world)
        world.env.inject_error("POST", "/applications/*/entitlements/*/consume", status=503, times=2)
        entitlement = await world.env.grant_entitlement(sku, user=world.alice, guild=world.guild)
        assert not entitlement.snapshot().consumed
        await world.env.advance_time(150)
        assert entitlement.snapshot().consumed
        assert await _available(world, world.alice) == 500 + PACK


async def test_a_revoked_pack_is_taken_back(world_factory: Any) -> None:
    async with world_factory(**STORE) as world:
        sku = await _sku(world)
        entitlement = await world.env.grant_entitlement(sku, user=world.alice, guild=world.guild)
        await entitlement.revoke()
        assert await _available(world, world.alice) == 500
        await entitlement.replay_create()  # a late replay after the revoke pays nothing
        assert await _available(world, world.alice) == 500
        amounts = [int(row[4]) for row in await _export(world) if row[3] == "purchase"]
        assert amounts == [PACK, -PACK]


async def test_a_revoke_after_spending_never_goes_below_zero_and_tells_admins(world_factory: Any) -> None:
    async with world_factory(
        credits={"default_allowance": 0} | RELAXED["credits"],
        limits=RELAXED["limits"],
        store={"packs": {str(SKU_ID): 100}},
    ) as world:
        admins = world.guild.create_text_channel("admins")
        await world.admin.slash(world.channel, "wan-admin admin-channel", channel=admins)
        sku = await _sku(world)
        entitlement = await world.env.grant_entitlement(sku, user=world.alice, guild=world.guild)
        await world.video(world.alice)  # 80 of the 100 bought
        await world.env.advance_time(30)
        assert len(world.results()) == 1

        await entitlement.revoke()
        balance = await world.balance(world.alice)
        assert (balance.available, balance.held) == (0, 0)
        [notice] = admins.history(viewer=world.admin)
        assert "**20** credits were taken back; **80** had already been spent" in notice.content
        stats = await world.admin.slash(world.channel, "wan-admin stats")
        assert "**1** packs, **100** credits" not in stats.response.content  # a revoked pack is not kept
        assert "**80** credits could not be taken back" in stats.response.content


async def test_a_pack_bought_outside_a_server_lands_where_the_member_next_uses_the_bot(world_factory: Any) -> None:
    async with world_factory(**STORE) as world:
        sku = await _sku(world)
        entitlement = await world.env.grant_entitlement(sku, user=world.alice)
        assert await _available(world, world.alice) == 500 and not entitlement.snapshot().consumed

        shown = await world.alice.slash(world.channel, "credits")
        assert await _available(world, world.alice) == 500 + PACK
        assert entitlement.snapshot().consumed
        again = await world.alice.slash(world.channel, "credits")
        lines = {field.name: field.value for field in again.response.embeds[0].fields}["Last entries"]
        assert "purchase +1000" in lines and "bought outside a server" in lines
        assert shown.ephemeral


async def test_credits_shows_the_buy_button_only_when_packs_are_configured(world_factory: Any) -> None:
    async with world_factory(**STORE) as world:
        await _sku(world)
        shown = await world.alice.slash(world.channel, "credits")
        [row] = shown.response.components
        [button] = row["components"]
        assert button["style"] == discord.ButtonStyle.premium.value and int(button["sku_id"]) == SKU_ID
        stats = await world.admin.slash(world.channel, "wan-admin stats")
        assert "Store purchases" in stats.response.content


async def test_without_packs_nothing_changes(world_factory: Any) -> None:
    async with world_factory() as world:
        sku = await _sku(world)
        entitlement = await world.env.grant_entitlement(sku, user=world.alice, guild=world.guild)
        assert await _available(world, world.alice) == 500 and not entitlement.snapshot().consumed
        shown = await world.alice.slash(world.channel, "credits")
        assert not shown.response.components
        stats = await world.admin.slash(world.channel, "wan-admin stats")
        assert "Store purchases" not in stats.response.content
