"""Command line: ``python -m bot [run|demo] [--config PATH]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bot.config import ConfigError, load_config

GETTING_STARTED = """\
No Discord token is configured, so the bot cannot connect.

  1. Create an application at https://discord.com/developers/applications,
     add a Bot, and copy its token.
  2. Put it in the environment: export DISCORD_TOKEN=...   (or [discord] token in config.toml)
  3. Invite the bot with the scopes 'bot' and 'applications.commands' (see README.md).

Meanwhile, try everything offline: python -m bot demo
"""


def _parser() -> argparse.ArgumentParser:
    # The shared options work before or after the command: `python -m bot run --config x.toml`.
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's defaults must not erase an option given before the subcommand.
    common.add_argument(
        "--config", default=argparse.SUPPRESS, help="config file (default: $WANBOT_CONFIG, else built-in defaults)"
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="verbose logs, with provider bodies (secrets masked)",
    )
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Wan 2.6 video bot for Discord", parents=[common]
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", parents=[common], help="connect to Discord and run the bot (the default)")
    commands.add_parser("demo", parents=[common], help="the offline demo on a simulated Discord; no token, no network")
    return parser


def setup_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not debug:
        # discord.py's gateway chatter is noise at INFO for an operator.
        logging.getLogger("discord.gateway").setLevel(logging.WARNING)


async def _run(config_path: str | None, debug: bool) -> int:
    from bot.app import create_bot

    config = load_config(config_path)
    token = config.discord.token.get_secret_value()
    if not token:
        print(GETTING_STARTED, file=sys.stderr)
        return 2
    bot = create_bot(config, log_bodies=debug)
    async with bot:
        await bot.start(token)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    config_path: str | None = getattr(args, "config", None)
    debug: bool = getattr(args, "debug", False)
    try:
        if command == "demo":
            from bot.demo import main as demo_main

            return demo_main()
        setup_logging(debug)
        return asyncio.run(_run(config_path, debug))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
