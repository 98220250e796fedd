"""``python -m bot sync [--guild ID ...]``: register the slash commands with Discord.

Globally by default (Discord may take a while to show changes everywhere), or instantly in the
given servers (for trying a new version). Logs in over HTTP only: no gateway connection, no
database, no job loop, so it is safe to run next to a running bot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.config import Config

Write = Callable[[str], None]


async def sync_commands(tree: app_commands.CommandTree[Any], guild_ids: Sequence[int]) -> int:
    """Register the tree's commands globally, or copied into each guild; returns how many were registered."""
    if not guild_ids:
        return len(await tree.sync())
    count = 0
    for guild_id in guild_ids:
        guild = discord.Object(guild_id)
        tree.copy_global_to(guild=guild)
        count = len(await tree.sync(guild=guild))
    return count


async def run_sync(config: Config, guild_ids: Sequence[int], out: Write, err: Write) -> int:
    from bot.assemble import create_bot

    token = config.discord.token.get_secret_value()
    if not token:
        err("No Discord token: set DISCORD_TOKEN (or [discord] token) to register commands.")
        return 2
    bot = create_bot(config, commands_only=True)
    try:
        async with bot:
            await bot.login(token)  # runs setup_hook, which only builds the command tree in this mode
            names = sorted(f"/{command.name}" for command in bot.tree.get_commands())
            count = await sync_commands(bot.tree, guild_ids)
    except discord.LoginFailure:
        err("Discord refused the token. Copy it again from the Developer Portal into DISCORD_TOKEN.")
        return 1
    except discord.Forbidden:
        err(
            "Discord refused to register commands there: is the bot in that server, invited with the"
            " applications.commands scope? (python -m bot check prints an invite link)"
        )
        return 1
    except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as error:
        err(f"Could not register the commands ({type(error).__name__}); nothing was changed. Try again.")
        return 1
    where = ("in " + ", ".join(f"server {guild_id}" for guild_id in guild_ids)) if guild_ids else "globally"
    out(f"Registered {count} commands {where}: {' '.join(names)}")
    if not guild_ids:
        out("Global commands can take a while to appear in every server; --guild ID shows them there at once.")
    return 0
