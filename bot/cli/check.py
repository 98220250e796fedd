"""``python -m bot check``: is this installation ready to run? Every finding in plain words.

Checks, in order, each one reported even when an earlier one failed where that still makes sense:
the config file, the database (opened and migrated, as ``run`` would), the provider key (one
harmless request), the Discord token (an HTTP login, no gateway), and the web/callbacks settings.
Exit status 0 when nothing is wrong, 1 when something is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import discord

from bot.cli.storage import StorageError, open_database
from bot.config import Config, ConfigError, load_config_with_notes, provider_notes, provider_summary, safety_warnings
from bot.domain.clock import system_clock
from bot.providers.base import ProviderAuthError, ProviderError, TransientProviderError
from bot.providers.factory import build_provider
from bot.storage.db import is_postgres_url

Write = Callable[[str], None]

# What the bot needs in a channel (README "Operating the bot"): View Channels, Send Messages (and
# in threads), Embed Links, Attach Files, Read Message History (finding a result posted before a
# crash), Use Application Commands.
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    use_application_commands=True,
)


@dataclass
class Report:
    out: Write
    problems: list[str] = field(default_factory=list)

    def ok(self, what: str, text: str) -> None:
        self.out(f"  ok       {what}: {text}")

    def note(self, what: str, text: str) -> None:
        self.out(f"  note     {what}: {text}")

    def problem(self, what: str, text: str) -> None:
        self.problems.append(what)
        lines = text.splitlines() or [""]
        self.out(f"  PROBLEM  {what}: {lines[0]}")
        for line in lines[1:]:
            self.out(f"           {line}")


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=("bot", "applications.commands"))


async def run_check(config_path: str | None, out: Write, *, debug: bool = False, skip_discord: bool = False) -> int:
    report = Report(out)
    out(f"Checking {config_path or '$WANBOT_CONFIG, ./config.toml or the built-in defaults'}")
    try:
        config, notes = load_config_with_notes(config_path)
    except ConfigError as error:
        report.problem("config", str(error))
        return _summary(report)
    report.ok("config", "valid")
    provider_hints = provider_notes(config)
    for note in notes:
        if note not in provider_hints:
            report.note("config", note)
    for warning in safety_warnings(config):
        report.problem("safety", warning)
    await _database(config, report)
    await _provider(config, report, debug=debug)
    if skip_discord:
        if config.discord.token.get_secret_value():
            report.note("discord", "token set, not verified (--skip-discord)")
        else:
            report.problem("discord", _MISSING_DISCORD_LOGIN)
    else:
        await _discord(config, report)
    _web(config, report)
    _shards(config, report)
    return _summary(report)


def _summary(report: Report) -> int:
    count = len(report.problems)
    if count:
        report.out(f"{count} problem{'s' if count != 1 else ''} found: {', '.join(report.problems)}.")
        return 1
    report.out("Everything needed to run looks right.")
    return 0


async def _database(config: Config, report: Report) -> None:
    # [database] url (PostgreSQL) when set, else the SQLite file; db.target never shows a password.
    try:
        db = await open_database(config.database.target)
    except StorageError as error:
        report.problem("database", str(error).removeprefix("Database not usable: "))
        return
    try:
        version = await db.schema_version()
        where = db.target
        kind = "PostgreSQL " if db.backend == "postgresql" else ""
    finally:
        await db.close()
    report.ok("database", f"{kind}{where} opened, schema version {version}")


async def _provider(config: Config, report: Report, *, debug: bool) -> None:
    settings = config.provider
    kind = settings.effective_kind
    for hint in provider_notes(config):
        report.note("provider", hint)
    if kind == "sandbox":
        report.ok("provider", f"live: {provider_summary(config)}")
        return
    where = settings.effective_base_url
    async with aiohttp.ClientSession() as session:
        provider = build_provider(settings, session, system_clock, log_bodies=debug)
        try:
            await provider.verify_key()
        except ProviderAuthError as error:
            status = f" (HTTP {error.http_status})" if error.http_status is not None else ""
            report.problem(
                "provider",
                f"{kind} at {where} rejected the API key{status}. Check WAN_API_KEY (or [provider] api_key)"
                " and that the key is active in the provider's dashboard.",
            )
            return
        except TransientProviderError as error:
            report.problem(
                "provider", f"could not get an answer from {kind} at {where} ({error}). Check base_url and the network."
            )
            return
        except ProviderError as error:
            report.problem("provider", f"{kind} at {where} answered the key check unexpectedly: {error}")
            return
    report.ok("provider", f"live: {provider_summary(config)}; the API key was accepted")


async def _discord(config: Config, report: Report) -> None:
    token = config.discord.token.get_secret_value()
    if not token:
        report.problem("discord", _MISSING_DISCORD_LOGIN)
        return
    # An HTTP-only login proves the token without connecting to the gateway.
    client = discord.Client(intents=discord.Intents(guilds=True))
    try:
        async with client:
            await client.login(token)
            user = client.user
            application_id = client.application_id
            application = await client.application_info()
            guilds = [guild async for guild in client.fetch_guilds(limit=None)]
    except discord.LoginFailure:
        report.problem(
            "discord",
            "Discord refused the token. Copy it again from the Developer Portal (Bot → Reset Token)"
            " into DISCORD_TOKEN.",
        )
        return
    except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as error:
        report.problem("discord", f"could not reach Discord to check the token ({type(error).__name__}).")
        return
    report.ok(
        "discord", f"token accepted: logged in as {user} (application {application_id}), in {len(guilds)} servers"
    )
    if application.bot_public:
        report.note(
            "discord",
            "'Public Bot' is on in the Developer Portal: anyone with the invite link can add the bot"
            " (Bot → Public Bot → off; README 'Keeping the bot private')",
        )
    allowed = config.discord.allowed_guild_ids
    outside = [guild for guild in guilds if allowed and guild.id not in allowed]
    if outside:
        names = ", ".join(f"{guild.name} ({guild.id})" for guild in outside)
        report.problem(
            "discord",
            f"in {len(outside)} server{'s' if len(outside) != 1 else ''} not in [discord] allowed_guild_ids: {names}."
            " The bot leaves them when it starts; add their ids to the list to keep them",
        )
    if application_id is not None:
        report.note("discord", f"invite link: {invite_url(application_id)}")


def _shards(config: Config, report: Report) -> None:
    """A range of shards means other processes run the rest: they must share one database."""
    discord_config = config.discord
    count = discord_config.shard_count
    if count is None:
        return
    ids = discord_config.shard_ids
    if ids is None or sorted(ids) == list(range(count)):
        report.ok("shards", f"this process runs all {count} shards")
        return
    text = f"this process runs shards {', '.join(map(str, ids))} of {count}"
    if not is_postgres_url(config.database.target):
        report.problem(
            "shards",
            f"{text}, so other processes run the rest, and they must share one PostgreSQL database:"
            " set [database] url (README 'More than one process'); a SQLite file takes one process",
        )
        return
    report.ok("shards", f"{text}; every process needs the same shard_count and together all of 0..{count - 1}")


def _web(config: Config, report: Report) -> None:
    web, callbacks = config.web, config.callbacks
    if not web.enabled:
        report.note("web", "off: no completion callbacks, /healthz or /metrics ([web] enabled = false)")
        return
    report.ok("web", f"will listen on {web.host} port {web.port}: /healthz, /metrics")
    if not callbacks.enabled:
        report.note("callbacks", "off: finished videos are found by polling")
        return
    kind = config.provider.effective_kind
    base = callbacks.public_base_url
    if kind == "sandbox":
        report.note("callbacks", "on, but the sandbox provider sends none")
    elif kind == "apimall" and not callbacks.apimall_webhook_secret.get_secret_value():
        report.problem(
            "callbacks",
            "on for apimall but no webhook secret is set, so every delivery would be refused."
            " Set WANBOT_WEBHOOK_SECRET (or [callbacks] apimall_webhook_secret) to the dashboard's secret.",
        )
    elif not base:
        report.note("callbacks", f"on, at http://{web.host}:{web.port}: only a provider on this network can reach it")
    else:
        path = "/callbacks/apimall" if kind == "apimall" else "/callbacks/wan26ai/<token per job>"
        report.ok("callbacks", f"on: the provider posts to {base}{path}")
    if base.startswith("http://"):
        report.note("callbacks", "public_base_url is plain http: put the server behind https")


_MISSING_DISCORD_LOGIN = (
    "no Discord token, so `run` cannot connect. Set DISCORD_TOKEN (or [discord] token); see README.md."
)
