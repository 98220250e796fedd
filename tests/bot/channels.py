"""SimCord set-ups for channel tests: the bot's overwrites, threads members open."""

from __future__ import annotations

from typing import Any

import discord
from simcord.backend.models import Overwrite
from simcord.builders import ChannelHandle
from simcord.enums import ChannelType, OverwriteType

from tests.bot.conftest import World


def bot_overwrite(world: World, channel: Any, **permissions: bool) -> None:
    """An admin sets the bot's own overwrite on a channel (as in the channel's settings)."""
    allow, deny = discord.PermissionOverwrite(**permissions).pair()
    world.env.backend.set_overwrite(
        channel.id, Overwrite(world.bot.user.id, OverwriteType.MEMBER, allow=allow.value, deny=deny.value)
    )


def thread_in(
    world: World, *, owner: Any, private: bool = True, with_bot: bool = False, **bot_permissions: bool
) -> Any:
    """A thread a member opened under the videos channel (the bot is added only if asked).

    The bot has what a bot usually has: what it needs to post, but not Manage Threads unless
    asked (SimCord's bot role has it, and with it the bot sees every private thread)."""
    bot_overwrite(world, world.channel, **({"manage_threads": False} | bot_permissions))
    kind = ChannelType.PRIVATE_THREAD if private else ChannelType.PUBLIC_THREAD
    thread = world.env.backend.create_thread(world.channel.id, "side chat", owner.id, type=kind)
    if with_bot:
        world.env.backend.add_thread_member(thread.id, world.bot.user.id)
    return ChannelHandle(world.env, world.guild, thread)
