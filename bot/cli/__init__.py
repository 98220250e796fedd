"""Command line: ``python -m bot [run|check|sync|demo|backup|export-ledger|migrate-to|health] [OPTIONS]``.

Each command lives in its own module; this one parses arguments, loads the config once, sets
up logging with the secrets it must mask, and turns expected failures into plain sentences
and exit codes (0 fine, 1 something is wrong, 2 the command cannot start as configured).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from bot.config import Config, ConfigError, load_config, load_config_with_notes
from bot.demo_options import add_demo_arguments

# Point discord.py somewhere else than discord.com: a loopback fake in tests, or a proxy in
# front of Discord. Unset, discord.py's own addresses are used.
ENV_DISCORD_API_BASE = "WANBOT_DISCORD_API_BASE"
ENV_DISCORD_GATEWAY = "WANBOT_DISCORD_GATEWAY"

GETTING_STARTED = """\
No Discord token is configured, so the bot cannot connect.

  1. Create an application at https://discord.com/developers/applications,
     add a Bot, and copy its token.
  2. Put it in the environment: export DISCORD_TOKEN=...   (or [discord] token in config.toml)
  3. Invite the bot with the scopes 'bot' and 'applications.commands' (see README.md).

Meanwhile, try everything offline: python -m bot demo
"""


def _parser() -> argparse.ArgumentParser:
    # --config and --debug are accepted before or after the command (SUPPRESS keeps a value
    # given before the command from being reset by the subcommand's default).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default=argparse.SUPPRESS, help="config file (default: $WANBOT_CONFIG, else built-in defaults)"
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="verbose logs, with provider request and response bodies (secrets masked)",
    )
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Wan 2.6 video bot for Discord", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"wanbot {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", parents=[common], help="connect to Discord and run the bot (the default)")
    check = commands.add_parser(
        "check", parents=[common], help="check the config, database, provider key and Discord token"
    )
    check.add_argument("--skip-discord", action="store_true", help="do not log in to Discord to check the token")
    sync = commands.add_parser("sync", parents=[common], help="register the slash commands with Discord")
    sync.add_argument(
        "--guild",
        dest="guilds",
        type=int,
        action="append",
        default=[],
        metavar="ID",
        help="register in this server only, instantly (repeatable); default: globally",
    )
    demo = commands.add_parser(
        "demo", parents=[common], help="the offline demo on a simulated Discord; no token, no network"
    )
    add_demo_arguments(demo)
    backup = commands.add_parser(
        "backup", parents=[common], help="copy the live database consistently (safe while the bot runs)"
    )
    backup.add_argument("path", help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")
    migrate = commands.add_parser(
        "migrate-to", parents=[common], help="copy the SQLite database into a new, empty PostgreSQL database"
    )
    migrate.add_argument("url", help="the PostgreSQL database to fill: postgresql://user:password@host/database")
    export = commands.add_parser("export-ledger", parents=[common], help="write the credit ledger as CSV")
    export.add_argument("--guild", type=int, metavar="ID", help="only this server's entries")
    export.add_argument("path", nargs="?", default="-", help="CSV file to write, or - for standard output (default)")
    commands.add_parser(
        "health",
        parents=[common],
        help="exit 0 when the running bot is healthy: asks /healthz when [web] is on, else checks the database",
    )
    return parser


def _version() -> str:
    try:
        return version("wanbot")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def _secrets(config: Config) -> list[str]:
    return [
        config.discord.token.get_secret_value(),
        config.provider.api_key.get_secret_value(),
        config.callbacks.apimall_webhook_secret.get_secret_value(),
        # The PostgreSQL URL may carry a password.
        config.database.url.get_secret_value(),
        urlsplit(config.database.url.get_secret_value()).password or "",
    ]


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _out(text: str) -> None:
    print(text, flush=True)


@contextlib.contextmanager
def _logging(debug: bool, config: Config | None) -> Iterator[None]:
    from bot.cli.logs import configure_logging

    settings = config.logging if config is not None else None
    undo = configure_logging(
        debug,
        secrets=_secrets(config) if config is not None else (),
        level=settings.level if settings is not None else "info",
        fmt=settings.format if settings is not None else "text",
    )
    try:
        yield
    finally:
        undo()


async def _run(config: Config, debug: bool, notes: list[str]) -> int:
    from bot.cli.run import run_bot
    from bot.storage.single_process import DatabaseInUse, ProcessLock

    token = config.discord.token.get_secret_value()
    if not token:
        _err(GETTING_STARTED)
        return 2
    # Before anything else: a second bot process on the same SQLite file stops here, in one line.
    try:
        lock = None if config.database.url.get_secret_value() else ProcessLock.acquire(config.database.path)
    except DatabaseInUse as error:
        _err(str(error))
        return 1
    except OSError:
        lock = None  # the folder is not writable: opening the database says so, in one line
    try:
        return await run_bot(config, token, debug=debug, notes=notes, err=_err)
    finally:
        if lock is not None:
            lock.release()


def _backup(config: Config, path: str, force: bool) -> int:
    from bot.cli.backup import BackupError, backup_database

    try:
        result = backup_database(config.database.path, path, force=force)
    except BackupError as error:
        _err(f"Backup not made: {error}.")
        return 1
    _out(
        f"Backup written to {result.path} ({result.size:,} bytes, schema version {result.schema_version},"
        f" {result.jobs} jobs, {result.ledger_entries} ledger entries, integrity ok)."
    )
    return 0


async def _export(config: Config, guild_id: int | None, path: str) -> int:
    from bot.cli.export import export_ledger
    from bot.storage.db import Database

    try:
        db = await Database.open_existing(config.database.target)
    except (FileNotFoundError, RuntimeError) as error:
        _err(f"Cannot export: {error}.")
        return 1
    try:
        if path == "-":
            count = await export_ledger(db, sys.stdout, guild_id=guild_id)
        else:
            with _open_csv(Path(path)) as handle:
                count = await export_ledger(db, handle, guild_id=guild_id)
            _err(f"Wrote {count} ledger entries to {path}.")
    finally:
        await db.close()
    return 0


@contextlib.contextmanager
def _open_csv(path: Path) -> Iterator[TextIO]:
    # newline="": the csv module writes its own line endings.
    with path.open("w", encoding="utf-8", newline="") as handle:
        yield handle


def _dispatch(args: argparse.Namespace) -> int:
    command: str = args.command or "run"
    if command == "demo":
        from bot.demo import main as demo_main

        return demo_main(args)
    if command == "check":
        from bot.cli.check import run_check

        # check reports a bad config in its own words; loading it here only tells the logs what to mask.
        try:
            known: Config | None = load_config(args.config)
        except ConfigError:
            known = None
        with _logging(args.debug, known):
            return asyncio.run(run_check(args.config, _out, debug=args.debug, skip_discord=args.skip_discord))
    config, notes = load_config_with_notes(args.config)
    with _logging(args.debug, config):
        if command == "run":
            return asyncio.run(_run(config, args.debug, notes))
        if command == "health":
            from bot.cli.health import run_health

            return asyncio.run(run_health(config, _out, _err))
        if command == "sync":
            from bot.cli.sync import run_sync

            return asyncio.run(run_sync(config, args.guilds, _out, _err))
        if command == "backup":
            return _backup(config, args.path, args.force)
        if command == "export-ledger":
            return asyncio.run(_export(config, args.guild, args.path))
        if command == "migrate-to":
            from bot.cli.migrate_to import migrate_to

            return asyncio.run(migrate_to(config, args.url, _out, _err))
    raise AssertionError(f"unhandled command {command}")


def _point_discord_api(environ: Mapping[str, str]) -> None:
    base = environ.get(ENV_DISCORD_API_BASE, "").strip().rstrip("/")
    if base:
        import discord.http

        discord.http.Route.BASE = base
    gateway = environ.get(ENV_DISCORD_GATEWAY, "").strip()
    if gateway:
        import discord.gateway
        import yarl

        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)


def main(argv: Sequence[str] | None = None) -> int:
    from bot.cli.logs import quiet_discord_noise

    quiet_discord_noise()
    _point_discord_api(os.environ)
    args = _parser().parse_args(argv)
    # Not set_defaults(): the parent parser's actions are shared, and a default set there would
    # reset a --config given before the command when the command's own parser runs.
    args.config = getattr(args, "config", None)
    args.debug = getattr(args, "debug", False)
    try:
        return _dispatch(args)
    except ConfigError as error:
        _err(str(error))
        return 2
    except KeyboardInterrupt:
        return 130
