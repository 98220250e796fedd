"""The one typed accessor for "the bot behind this interaction" (every cog, view and modal uses it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import discord

    from bot.app import WanBot


def bot_of(interaction: discord.Interaction[Any]) -> WanBot:
    # Only WanBot ever dispatches our interactions; the cast is written once, here.
    return cast("WanBot", interaction.client)
