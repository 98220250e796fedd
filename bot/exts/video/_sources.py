"""The "made from this message" line on a result started from Animate/Transform with Wan."""

from __future__ import annotations

import discord


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def with_source(embed: discord.Embed, source: tuple[int, int, int] | None) -> discord.Embed:
    """A link, never a mention: the source message's author is not pinged."""
    if source is not None:
        embed.add_field(name="Made from", value=f"[this message]({jump_url(*source)})", inline=False)
    return embed
