"""The simulated server the browser demo and the screenshot tour share: the real bot with every cog,
a real SQLite file in a folder the caller owns, the sandbox provider, and three people."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord

from bot.app import WanBot
from bot.assemble import create_bot
from bot.config import config_from_mapping

# Long enough to watch the progress line move; a few real seconds at the default --speed.
RENDER_SECONDS = 20


def demo_bot(folder: Path, *, render_seconds: float = RENDER_SECONDS) -> WanBot:
    config = config_from_mapping(
        {
            "database": {"path": str(folder / "demo.sqlite3")},
            "provider": {"kind": "sandbox", "sandbox_render_seconds": render_seconds},
        },
        environ={},
        source="demo",
    )
    return create_bot(config)


@dataclass
class DemoWorld:
    env: Any
    bot: WanBot
    guild: Any
    channel: Any
    review: Any
    member: Any
    moderator: Any
    admin: Any

    @property
    def people(self) -> list[Any]:
        return [self.member, self.moderator, self.admin]

    def fingerprint(self) -> Hashable:
        """Everything a page could show, as one comparable value: every message of the server's
        channels, ephemeral ones included, with its edits, embeds, components and files."""
        messages = self.env.backend.messages
        return tuple(
            repr(message)
            for channel in (self.channel, self.review)
            for message in messages.get(channel.id, {}).values()
        )


async def populate(env: Any, bot: WanBot) -> DemoWorld:
    guild = env.create_guild(name="Demo Server")
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_messages=True))
    admins = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True, manage_messages=True))
    channel = guild.create_text_channel("videos", topic="Make videos with /video")
    review = guild.create_text_channel(
        "review",
        topic="Finished videos wait here for a moderator when review mode is on",
        overwrites={
            guild.default_role: discord.PermissionOverwrite(view_channel=False),
            mods: discord.PermissionOverwrite(view_channel=True),
            admins: discord.PermissionOverwrite(view_channel=True),
            bot.user: discord.PermissionOverwrite(view_channel=True),
        },
    )
    world = DemoWorld(
        env=env,
        bot=bot,
        guild=guild,
        channel=channel,
        review=review,
        member=guild.add_member(env.create_user("alice")),
        moderator=guild.add_member(env.create_user("mod"), roles=[mods]),
        admin=guild.add_member(env.create_user("admin"), roles=[admins]),
    )
    await bot.tree.sync()
    return world


def welcome_text(speed: float, render_seconds: float = RENDER_SECONDS) -> str:
    real = max(1, round(render_seconds / speed))
    return (
        "**Welcome to the Wan 2.6 bot demo.** This is the real bot on a simulated server, with the free "
        f"sandbox provider: nothing is paid, and time runs {speed:g}× fast (a render takes about {real} s).\n"
        "**Try:**\n"
        "• Type `/video`, pick it, write a prompt and press Enter: the price and your balance come "
        "privately, the progress shows here, then the video with **Reroll**, **Remix**, **Report** and **Delete**.\n"
        "• `/credits` and `/jobs`. A prompt containing `sandbox:fail` shows a failed render and its refund.\n"
        "• Switch **Viewing as** to `admin`: `/wan-admin stats` (a chart), `/wan-admin grant`, "
        "`/wan-admin review on` with this channel, then make a video and **Approve** or **Reject** it.\n"
        "• As `mod`: `/wan-mod rules add`, `/wan-mod history`, `/wan-mod log`."
    )
