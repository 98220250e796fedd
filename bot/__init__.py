"""Wan 2.6 video generation for Discord communities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.app import WanBot
    from bot.config import Config

__all__ = ["create_bot"]


def create_bot(config: Config, **options: Any) -> WanBot:
    """Build the bot from a loaded config without connecting (options: see ``bot.assemble.create_bot``)."""
    # Imported here so the Discord-free core can be used without loading discord.py.
    from bot.assemble import create_bot as _create_bot

    return _create_bot(config, **options)
