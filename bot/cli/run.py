"""``python -m bot run``: open the database, log in, serve until SIGTERM or SIGINT.

The database is opened and migrated before Discord is contacted, so a bad path fails in a second.
Every expected failure (database, Discord unreachable, token refused) ends in one line on stderr
and exit status 1. SIGTERM (``docker stop``) and SIGINT stop the bot the same graceful way (WanBot.close):
commands are refused from then on, the web server stops, the job loop's current tick finishes
(bounded, see bot/exts/runner/_cog.py), the gateway closes and the database is closed; exit status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

import aiohttp
import discord

from bot.cli.storage import StorageError, open_database
from bot.config import Config, provider_summary, safety_warnings

log = logging.getLogger("bot.run")

Write = Callable[[str], None]

_TOKEN_REFUSED = (
    "Discord refused the token. Copy it again from the Developer Portal (Bot → Reset Token) into DISCORD_TOKEN."  # noqa: S105
)


def _unreachable(error: BaseException) -> str:
    reason = str(error) or type(error).__name__
    return (
        f"Cannot reach Discord ({type(error).__name__}: {reason}). Check this machine's network, DNS and any"
        " firewall or proxy, then start the bot again."
    )


async def run_bot(config: Config, token: str, *, debug: bool, notes: list[str], err: Write) -> int:
    from bot.assemble import create_bot

    for note in [*notes, *safety_warnings(config)]:
        log.warning("%s", note)
    log.info("provider: %s", provider_summary(config))
    try:
        db = await open_database(config.database.target, single_process=True)
    except StorageError as error:
        err(str(error))
        return 1
    log.info("database %s opened, schema version %d", db.target, await db.schema_version())
    bot = create_bot(config, log_bodies=debug)
    bot.db = db
    stopping = _stop_on_signals(bot)
    try:
        async with bot:
            try:
                await bot.start(token)
            except BaseException:
                # A signal's close() pulls the HTTP session and the gateway from under a connect
                # or reconnect in progress, which then fails in whatever way it happens to (a
                # cancelled request, or discord.py finding no websocket): that is the stop asked for.
                if not (stopping and bot.is_closed()):
                    raise
                log.debug("the connection ended while stopping", exc_info=True)
    except discord.LoginFailure:
        err(_TOKEN_REFUSED)
        return 1
    except discord.HTTPException as error:
        err(f"Discord answered the login with HTTP {error.status}; try again later (https://discordstatus.com).")
        return 1
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        err(_unreachable(error))
        return 1
    finally:
        # async with closed the bot (and the database) on every path; a signal's own close task is done too.
        if stopping:
            await asyncio.gather(*stopping, return_exceptions=True)
    if stopping:
        log.info("stopped cleanly")
    return 0


def _stop_on_signals(bot: discord.Client) -> list[asyncio.Task[None]]:
    """Make SIGTERM and SIGINT close the bot; returns the (filled on signal) list of close tasks."""
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []

    def stop(name: str) -> None:
        if tasks:
            return
        log.info("%s received: stopping (the job loop finishes its current tick first)", name)
        tasks.append(loop.create_task(bot.close()))

    for sig in (signal.SIGTERM, signal.SIGINT):
        # Windows has no signal handlers, and only the main thread may set them (in-process tests).
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop, sig.name)
    return tasks
