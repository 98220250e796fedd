"""One of several bot processes on one PostgreSQL: REST only, no gateway.

    python -m tests.crash.rest_bot_process --dir D --database URL --provider-url URL --discord-url URL ...

The bot is built with ``create_bot`` and logs in over HTTP to the shared fake Discord REST
(``tests.crash.discord_rest``), which runs ``setup_hook`` (database, services, the job loop).
No gateway connects, so the harness marks the client ready itself: the job loop then submits,
polls and delivers over REST exactly as a sharded process that does not hold the job's guild.
Members act through the harness's driver, which accepts jobs straight into the database.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord

from bot.assemble import create_bot
from bot.config import config_from_mapping
from tests.crash.common import VirtualClock
from tests.crash.discord_rest import TOKEN
from tests.crash.provider_process import API_KEY

# Small, so several processes together could exceed it if the limit were per process.
MAX_IN_FLIGHT = 4


def bot_config(args: argparse.Namespace) -> Any:
    return config_from_mapping(
        {
            "database": {"url": args.database},
            "provider": {
                "kind": args.kind,
                "base_url": args.provider_url,
                "api_key": API_KEY,
                "poll_interval_seconds": 2,
                "request_timeout_seconds": 5,
                "job_timeout_minutes": 30,
            },
            "credits": {"default_allowance": args.allowance, "refill_period": "daily", "confirm_above": 100_000},
            "limits": {"cooldown_seconds": 0, "max_running_per_member": 100, "max_in_flight": MAX_IN_FLIGHT},
            "loop": {"tick_seconds": 1},
        },
        environ={},
    )


async def main_async(args: argparse.Namespace) -> None:
    clock = VirtualClock(args.started, args.speed, args.offset)
    discord.http.Route.BASE = args.discord_url

    def now() -> datetime:
        return datetime.fromtimestamp(clock(), UTC)

    bot = create_bot(bot_config(args), clock=now)
    # Every request says which run sent it, so the Discord log can tell processes apart.
    bot.http.user_agent = f"{bot.http.user_agent} crash-run/{args.run}"
    await bot.login(TOKEN)
    bot._ready.set()  # no gateway: REST only (see the module docstring)
    logging.getLogger("crash").info("run %d ready", args.run)
    print("ready", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--provider-url", required=True)
    parser.add_argument("--discord-url", required=True)
    parser.add_argument("--kind", choices=("apimall", "wan26ai"), required=True)
    parser.add_argument("--started", type=float, required=True)
    parser.add_argument("--speed", type=float, required=True)
    parser.add_argument("--offset", type=float, required=True)
    parser.add_argument("--run", type=int, required=True)
    parser.add_argument("--allowance", type=int, default=8000)
    args = parser.parse_args()
    log = args.dir / "logs" / f"bot-{args.run:04d}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=log, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord").setLevel(logging.WARNING)
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
