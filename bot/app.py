"""The Discord bot: builds everything in ``setup_hook`` and releases it in ``close``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot.config import Config, provider_summary
from bot.domain.clock import Clock
from bot.domain.models import Job
from bot.ops.callbacks import CallbackService
from bot.ops.health import HealthChecker
from bot.ops.instrumented import InstrumentedEvents, InstrumentedProvider
from bot.ops.metrics import BotMetrics
from bot.ops.web import OpsServer
from bot.providers.factory import build_provider
from bot.services.container import Services, build_services
from bot.storage.db import Database
from bot.ui.alerts import DiscordNoticeSink
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
    "cogs.admin",
    "cogs.moderation",
    "cogs.animate",
    "cogs.store",
    "cogs.review_recovery",
    "cogs.help",
)
# Extensions with no commands that start background work: left out when only registering commands.
BACKGROUND_EXTENSIONS = frozenset({"cogs.runner", "cogs.store", "cogs.review_recovery"})


class WanBot(commands.Bot):
    services: Services

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock = discord.utils.utcnow,
        log_bodies: bool = False,
        commands_only: bool = False,
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
        self.http_session: aiohttp.ClientSession | None = None
        self.db: Database | None = None
        self.metrics = BotMetrics()
        self.callbacks: CallbackService | None = None
        self.ops_server: OpsServer | None = None
        # Set when close() starts: commands are refused while the last tick finishes.
        self.stopping = False

    async def setup_hook(self) -> None:
        config = self.config
        if self.commands_only:
            for extension in EXTENSIONS:
                if extension not in BACKGROUND_EXTENSIONS:
                    await self.load_extension(extension)
            return
        started_at = self.clock()
        self.http_session = aiohttp.ClientSession(
            headers={"User-Agent": "wanbot/0.1 (+self-hosted Discord bot)"},
        )
        if self.db is None:  # ``run`` opens it before logging in, so a bad path fails first
            self.db = await Database.open(config.database.target, single_process=True)
        provider = InstrumentedProvider(
            build_provider(config.provider, self.http_session, self.clock, log_bodies=self.log_bodies), self.metrics
        )
        events = InstrumentedEvents(DiscordJobEvents(self), self.metrics, self.clock)
        self.services = build_services(
            config=config,
            db=self.db,
            session=self.http_session,
            provider=provider,
            clock=self.clock,
            events=events,
            callback_url_for=self._callback_url,
            notice_sink=DiscordNoticeSink(self),
        )
        self.metrics.bind(
            jobs=self.services.job_repo, ledger=self.services.ledger, runner_stats=self.services.runner.stats
        )
        self.tree.interaction_check = self._accepts_interaction  # type: ignore[method-assign]
        self.add_dynamic_items(*DYNAMIC_ITEMS, *REVIEW_ITEMS, *REPORT_ITEMS, *PAGE_ITEMS)
        install_error_handler(self.tree)
        # Before the loop starts, so the first job submitted already carries its callback URL.
        await self._start_ops_server(started_at)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if provider.info.is_sandbox:
            log.warning("running on the sandbox provider: renders are fake and cost nothing")
        for guild_id in config.discord.dev_guild_ids:
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

    def _callback_url(self, job: Job) -> str | None:
        return self.callbacks.url_for(job) if self.callbacks is not None else None

    def shard_summary(self) -> dict[str, Any]:
        """For ``/healthz``; a sharded bot (``bot.sharding``) lists its range."""
        return {"count": 1, "ids": [0], "connected": [0] if self.discord_connected() else []}

    def discord_connected(self) -> bool:
        ws = self.ws
        return not self.is_closed() and self.is_ready() and ws is not None and bool(getattr(ws, "open", False))

    async def _start_ops_server(self, started_at: datetime) -> None:
        config = self.config
        if not config.web.enabled:
            return
        services = self.services
        provider_name = services.provider.info.name
        callbacks = CallbackService(
            config.callbacks,
            provider_name=provider_name,
            jobs=services.job_repo,
            runner=services.runner,
            metrics=self.metrics,
            min_interval_seconds=config.provider.poll_interval_seconds,
        )
        health = HealthChecker(
            db=services.db,
            runner_stats=services.runner.stats,
            discord_connected=self.discord_connected,
            clock=self.clock,
            max_tick_age_seconds=config.web.max_tick_age_seconds,
            started_at=started_at,
            shards=self.shard_summary,
        )
        server = OpsServer(config.web, health=health, metrics=self.metrics, callbacks=callbacks)
        try:
            await server.start()
        except OSError as error:
            # Never fatal: jobs still move by polling; only callbacks and the endpoints are missing.
            log.error(
                "web server could not listen on %s port %d (%s): callbacks, /healthz and /metrics are off;"
                " jobs are still followed by polling",
                config.web.host,
                config.web.port,
                error.strerror or type(error).__name__,
            )
            return
        self.ops_server = server
        callbacks.base_url = config.callbacks.public_base_url or server.local_url
        self.callbacks = callbacks
        if not config.callbacks.enabled:
            state = "off"
        elif provider_name in ("wan26ai", "apimall"):
            state = f"on for {provider_name} at {callbacks.base_url}/callbacks/{provider_name}/…"
        else:
            state = f"on, but the {provider_name} provider sends none"
        log.info("web server listening on %s: /healthz, /metrics; callbacks %s", server.local_url, state)

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


def create_bot(
    config: Config, *, clock: Clock = discord.utils.utcnow, log_bodies: bool = False, commands_only: bool = False
) -> WanBot:
    """Build the bot without connecting; ``setup_hook`` opens storage and HTTP when it starts."""
    if config.discord.sharded and not commands_only:
        from bot.sharding import ShardedWanBot  # a leaf module: it imports this one

        return ShardedWanBot(config, clock=clock, log_bodies=log_bodies)
    return WanBot(config, clock=clock, log_bodies=log_bodies, commands_only=commands_only)
