"""Posting admin notices (reached budgets, provider account problems) into a server's admin channel."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)


class DiscordNoticeSink:
    def __init__(self, bot: WanBot) -> None:
        self.bot = bot

    async def send(self, guild_id: int, channel_id: int, text: str) -> bool:
        channel = self.bot.get_channel(channel_id)
        try:
            if channel is None:
                channel = await self.bot.fetch_channel(channel_id)
            # A channel id from another server (or one that moved) is never posted to.
            if getattr(getattr(channel, "guild", None), "id", None) != guild_id:
                log.warning("admin channel %d is not in guild=%d; notice not sent", channel_id, guild_id)
                return False
            if not isinstance(channel, discord.abc.Messageable):
                return False
            await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as error:
            log.warning("could not post in admin channel %d of guild=%d: %s", channel_id, guild_id, error)
            return False
        return True
