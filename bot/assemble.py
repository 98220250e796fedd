"""The composition root: the one place that opens the database and the HTTP session and builds the
provider, the services and the ops objects, then hands them to the bot (discord.py's
``examples/advanced_startup.py``). Nothing imports this module but the entry points."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import discord

from bot.app import WanBot
from bot.config import Config
from bot.domain.clock import Clock
from bot.domain.models import Job
from bot.exts.video._delivery import DiscordJobEvents
from bot.ops.callbacks import CallbackService
from bot.ops.health import HealthChecker
from bot.ops.instrumented import InstrumentedEvents, InstrumentedProvider
from bot.ops.metrics import BotMetrics
from bot.ops.web import OpsServer
from bot.providers.factory import build_provider
from bot.services.container import Services, Storage, build_services, open_storage
from bot.storage.db import Database
from bot.ui.alerts import DiscordNoticeSink
from bot.ui.errors import install_error_handler

log = logging.getLogger(__name__)


def create_bot(
    config: Config, *, clock: Clock = discord.utils.utcnow, log_bodies: bool = False, commands_only: bool = False
) -> WanBot:
    """Build the bot without connecting; its ``setup_hook`` runs ``assemble`` when it starts."""
    if config.discord.sharded and not commands_only:
        from bot.sharding import ShardedWanBot  # a leaf module: it imports bot.app

        return ShardedWanBot(config, clock=clock, log_bodies=log_bodies, assemble=assemble)
    return WanBot(config, clock=clock, log_bodies=log_bodies, commands_only=commands_only, assemble=assemble)


async def assemble(bot: WanBot) -> None:
    """Open and build everything the cogs use and hand it to ``bot``; ``bot.close`` releases it."""
    config = bot.config
    started_at = bot.clock()
    bot.http_session = aiohttp.ClientSession(headers={"User-Agent": "wanbot/0.1 (+self-hosted Discord bot)"})
    if bot.db is None:  # ``run`` opens it before logging in, so a bad path fails first
        bot.db = await Database.open(config.database.target, single_process=True)
    provider = InstrumentedProvider(
        build_provider(config.provider, bot.http_session, bot.clock, log_bodies=bot.log_bodies), bot.metrics
    )
    storage = open_storage(bot.db)
    bot.services = build_services(
        config=config,
        db=bot.db,
        storage=storage,
        session=bot.http_session,
        provider=provider,
        clock=bot.clock,
        events=InstrumentedEvents(DiscordJobEvents(bot), bot.metrics, bot.clock),
        callback_url_for=lambda job: _callback_url(bot, job),
        notice_sink=DiscordNoticeSink(bot),
    )
    bot.metrics.bind(jobs=storage.job_repo, ledger=storage.ledger, runner_stats=bot.services.runner.stats)
    install_error_handler(bot.tree)
    # Before the loop starts, so the first job submitted already carries its callback URL.
    ops = build_ops(
        config, storage, bot.services, bot.metrics, bot.clock, bot.discord_connected, started_at, bot.shard_summary
    )
    if ops is not None and await _start(ops, config):
        bot.ops_server, bot.callbacks = ops.server, ops.callbacks


def _callback_url(bot: WanBot, job: Job) -> str | None:
    return bot.callbacks.url_for(job) if bot.callbacks is not None else None


@dataclass(frozen=True, slots=True)
class Ops:
    callbacks: CallbackService
    health: HealthChecker
    server: OpsServer


def build_ops(
    config: Config,
    storage: Storage,
    services: Services,
    metrics: BotMetrics,
    clock: Clock,
    discord_connected: Callable[[], bool],
    started_at: datetime,
    shards: Callable[[], dict[str, Any]] | None = None,
) -> Ops | None:
    """The web server's parts: completion callbacks, /healthz and /metrics (None when it is off)."""
    if not config.web.enabled:
        return None
    callbacks = CallbackService(
        config.callbacks,
        provider_name=services.provider_info.name,
        jobs=storage.job_repo,
        runner=services.runner,
        metrics=metrics,
        min_interval_seconds=config.provider.poll_interval_seconds,
    )
    health = HealthChecker(
        db=storage.db,
        runner_stats=services.runner.stats,
        discord_connected=discord_connected,
        clock=clock,
        max_tick_age_seconds=config.web.max_tick_age_seconds,
        started_at=started_at,
        shards=shards,
    )
    return Ops(callbacks, health, OpsServer(config.web, health=health, metrics=metrics, callbacks=callbacks))


async def _start(ops: Ops, config: Config) -> bool:
    server, callbacks = ops.server, ops.callbacks
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
        return False
    callbacks.base_url = config.callbacks.public_base_url or server.local_url
    provider_name = callbacks.provider_name
    if not config.callbacks.enabled:
        state = "off"
    elif provider_name in ("wan26ai", "apimall"):
        state = f"on for {provider_name} at {callbacks.base_url}/callbacks/{provider_name}/…"
    else:
        state = f"on, but the {provider_name} provider sends none"
    log.info("web server listening on %s: /healthz, /metrics; callbacks %s", server.local_url, state)
    return True
