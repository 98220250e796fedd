"""The bot class, a leaf: it imports no cog, view or builder. ``bot.assemble`` builds the database,
HTTP session, provider, services and ops objects and hands them in from ``setup_hook``; ``close``
releases them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot.config import Config, provider_summary
from bot.domain.clock import Clock
from bot.exts import BACKGROUND_EXTENSIONS, EXTENSIONS
from bot.ops.callbacks import CallbackService
from bot.ops.metrics import BotMetrics
from bot.ops.web import OpsServer
from bot.services.container import Services
from bot.storage.db import Database

log = logging.getLogger(__name__)


class WanBot(commands.Bot):
    services: Services

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock = discord.utils.utcnow,
        log_bodies: bool = False,
        commands_only: bool = False,
        assemble: Callable[[WanBot], Awaitable[None]] | None = None,
        **client_options: Any,  # shard_count, shard_ids: bot.sharding
    ) -> None:
        # No privileged intents: slash commands carry the member and their roles with them.
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            # Nothing the bot says pings anyone unless a message opts in to one user explicitly.
            allowed_mentions=discord.AllowedMentions.none(),
            **client_options,
        )
        self.config = config
        self.clock = clock
        self.log_bodies = log_bodies
        # ``python -m bot sync``: build the command tree only; no database, provider, loop or server.
        self.commands_only = commands_only
        self._assembler = assemble
        self.http_session: aiohttp.ClientSession | None = None
        self.db: Database | None = None
        self.metrics = BotMetrics()
        self.callbacks: CallbackService | None = None
        self.ops_server: OpsServer | None = None
        # Set when close() starts: commands are refused while the last tick finishes.
        self.stopping = False

    async def setup_hook(self) -> None:
        if not self.commands_only:
            # Everything is built in one place (bot.assemble) and handed in before any cog loads.
            if self._assembler is None:
                raise RuntimeError("WanBot needs an assemble step: build it with bot.assemble.create_bot")
            await self._assembler(self)
            self.tree.interaction_check = self._accepts_interaction  # type: ignore[method-assign]
        for extension in EXTENSIONS:
            if self.commands_only and extension in BACKGROUND_EXTENSIONS:
                continue
            await self.load_extension(extension)
        if self.commands_only:
            return
        if self.services.provider_info.is_sandbox:
            log.warning("running on the sandbox provider: renders are fake and cost nothing")
        for guild_id in self.config.discord.dev_guild_ids:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to dev guild %d", len(synced), guild_id)

    async def on_ready(self) -> None:
        await self._leave_disallowed_guilds(self.guilds)
        user = self.user
        log.info(
            "ready: logged in as %s (id %s) in %d servers, %d shard%s; provider %s; database %s",
            user,
            user.id if user else "?",
            len(self.guilds),
            self.shard_count or 1,
            "" if (self.shard_count or 1) == 1 else "s",
            provider_summary(self.config),
            self.db.target if self.db is not None else "?",
        )

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._leave_disallowed_guilds([guild])

    async def on_guild_available(self, guild: discord.Guild) -> None:
        # What a guild arriving after READY can also look like (a reconnect, or a simulated join).
        await self._leave_disallowed_guilds([guild])

    async def _accepts_interaction(self, interaction: discord.Interaction) -> bool:
        if self.stopping:
            await interaction.response.send_message(
                "The bot is restarting. Try again in a minute; nothing was charged.", ephemeral=True
            )
            return False
        # Between joining a server that is not allowed and leaving it (or if leaving failed).
        allowed = self.config.discord.allowed_guild_ids
        if not allowed or interaction.guild_id is None or interaction.guild_id in allowed:
            return True
        await interaction.response.send_message("This bot is not available in this server.", ephemeral=True)
        return False

    async def _leave_disallowed_guilds(self, guilds: Sequence[discord.Guild]) -> None:
        allowed = self.config.discord.allowed_guild_ids
        if not allowed:
            return
        for guild in guilds:
            if guild.id in allowed:
                continue
            log.warning(
                "leaving server %s (id %d): not in [discord] allowed_guild_ids (turn off 'Public Bot' in the"
                " Developer Portal so nobody else can add the bot)",
                guild.name,
                guild.id,
            )
            try:
                await guild.leave()
            except discord.HTTPException as error:
                log.error("could not leave server %d (HTTP %s); it is still not served", guild.id, error.status)

    def shard_summary(self) -> dict[str, Any]:
        """For ``/healthz``; a sharded bot (``bot.sharding``) lists its range."""
        return {"count": 1, "ids": [0], "connected": [0] if self.discord_connected() else []}

    def discord_connected(self) -> bool:
        ws = self.ws
        return not self.is_closed() and self.is_ready() and ws is not None and bool(getattr(ws, "open", False))

    async def close(self) -> None:
        self.stopping = True
        try:
            # The server first: no callback may start a job check while everything shuts down.
            server, self.ops_server = self.ops_server, None
            if server is not None:
                try:
                    await server.stop()
                except Exception:
                    log.exception("web server did not stop cleanly")
            # Unloads the cogs first, which stops the loop after its current tick.
            await super().close()
        finally:
            if self.http_session is not None:
                await self.http_session.close()
                self.http_session = None
            if self.db is not None:
                await self.db.close()
                self.db = None
