"""The Discord bot: builds everything in ``setup_hook`` and releases it in ``close``."""

from __future__ import annotations

import logging

import aiohttp
import discord
from discord.ext import commands

from bot.config import Config
from bot.domain.clock import Clock
from bot.providers.factory import build_provider
from bot.services.container import Services, build_services
from bot.storage.db import Database
from bot.ui.buttons import DYNAMIC_ITEMS
from bot.ui.delivery import DiscordJobEvents
from bot.ui.errors import install_error_handler
from bot.ui.pages import PAGE_ITEMS
from bot.ui.reports import REPORT_ITEMS
from bot.ui.review import REVIEW_ITEMS

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.video",
    "cogs.credits",
    "cogs.jobs",
    "cogs.runner",
    "cogs.moderation",
    "cogs.review_admin",
)


class WanBot(commands.Bot):
    services: Services

    def __init__(self, config: Config, *, clock: Clock = discord.utils.utcnow, log_bodies: bool = False) -> None:
        # No privileged intents: slash commands carry the member and their roles with them.
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            # Nothing the bot says pings anyone unless a message opts in to one user explicitly.
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.config = config
        self.clock = clock
        self.log_bodies = log_bodies
        self.http_session: aiohttp.ClientSession | None = None
        self.db: Database | None = None

    async def setup_hook(self) -> None:
        config = self.config
        self.http_session = aiohttp.ClientSession(
            headers={"User-Agent": "wanbot/0.1 (+self-hosted Discord bot)"},
        )
        self.db = await Database.open(config.database.path)
        provider = build_provider(config.provider, self.http_session, self.clock, log_bodies=self.log_bodies)
        events = DiscordJobEvents(self)
        self.services = build_services(
            config=config,
            db=self.db,
            session=self.http_session,
            provider=provider,
            clock=self.clock,
            events=events,
        )
        self.add_dynamic_items(*DYNAMIC_ITEMS, *REVIEW_ITEMS, *REPORT_ITEMS, *PAGE_ITEMS)
        install_error_handler(self.tree)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if provider.info.is_sandbox:
            log.warning("running on the sandbox provider: renders are fake and cost nothing")
        for guild_id in config.discord.dev_guild_ids:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to dev guild %d", len(synced), guild_id)

    async def close(self) -> None:
        try:
            # Unloads the cogs first, which stops the loop after its current tick.
            await super().close()
        finally:
            if self.http_session is not None:
                await self.http_session.close()
                self.http_session = None
            if self.db is not None:
                await self.db.close()
                self.db = None


def create_bot(config: Config, *, clock: Clock = discord.utils.utcnow, log_bodies: bool = False) -> WanBot:
    """Build the bot without connecting; ``setup_hook`` opens storage and HTTP when it starts."""
    return WanBot(config, clock=clock, log_bodies=log_bodies)
