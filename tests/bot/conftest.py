"""End-to-end harness: the real bot (all cogs, a real SQLite file) on SimCord's simulated
Discord, talking to the sandbox or to a loopback server speaking a provider's documented API.

The fake provider's clock is SimCord's virtual clock, so ``env.advance_time(60)`` makes a
60-second render finish without waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest
import simcord

from bot.app import WanBot
from bot.assemble import create_bot
from bot.config import Config, config_from_mapping
from bot.domain.models import Balance, Job
from bot.services.container import Storage, open_storage
from bot.services.credits import MemberContext
from bot.ui.channels import walk_components
from tests.backends import database_section
from tests.bot.shown import shown as shown
from tests.fakes import FakeProviderServer
from tests.fakes.apimall_server import FakeApimall
from tests.fakes.wan26ai_server import FakeWan26ai

API_KEY = "sk-test-0123456789abcdef"
# For tests about something else: none of the guardrails of issue 4 (confirm prompt, cooldown,
# running-job limit, provider queue). Tests about those set them themselves.
RELAXED: dict[str, dict[str, Any]] = {
    "credits": {"confirm_above": 100_000},
    "limits": {"cooldown_seconds": 0, "max_running_per_member": 100, "max_in_flight": 1000},
}


@dataclass
class World:
    env: simcord.Env
    bot: WanBot
    config: Config
    guild: Any
    channel: Any
    alice: Any
    bob: Any
    mod: Any
    admin: Any
    server: FakeProviderServer | None
    old_bots: list[WanBot] = field(default_factory=list)

    @property
    def storage(self) -> Storage:
        """The bot's database read directly, to check what it recorded (the cogs see services only)."""
        assert self.bot.db is not None
        return open_storage(self.bot.db)

    def public(self) -> list[discord.Message]:
        """The channel as a bystander sees it: no ephemeral replies."""
        return self.channel.history(viewer=self.bob)

    def results(self) -> list[discord.Message]:
        """Posted results: public messages carrying the Reroll button."""
        return [m for m in self.public() if _custom_ids(m, "wan:reroll:")]

    def pings(self, message: discord.Message) -> tuple[list[int], list[int], bool]:
        """Who this message actually notified (users, roles, @everyone), as the simulated Discord decided
        from the content, the allowed mentions and the bot's permissions."""
        stored = self.env.backend.messages[message.channel.id][message.id]
        return list(stored.ping_user_ids), list(stored.ping_role_ids), bool(stored.mention_everyone)

    async def balance(self, member: Any) -> Balance:
        """What /credits would show (refills are lazy, so this may write the period's refill)."""
        return await self.bot.services.credits.balance(self.guild.id, MemberContext(member.id))

    async def jobs(self, member: Any) -> list[Job]:
        return await self.bot.services.jobs.recent(self.guild.id, member.id, 50)

    async def video(self, member: Any, **options: Any) -> Any:
        options.setdefault("prompt", "a lighthouse in a storm, cinematic")
        return await member.slash(self.channel, "video", **options)

    async def press(self, member: Any, message: discord.Message, prefix: str) -> Any:
        """Click the button whose custom_id starts with ``prefix`` (e.g. ``wan:reroll:``)."""
        return await member.click(message, custom_id=custom_id(message, prefix))

    async def restart(self, *, crash: bool = True) -> WanBot:
        """A new bot process over the same SQLite file. ``crash`` skips the old bot's clean close."""
        old = self.bot
        if not crash:
            await old.close()
        new = create_bot(self.config, log_bodies=self.bot.log_bodies)
        await self.env.restart_bot(new)
        if crash:
            # The old process is gone; free its connection like the OS would.
            self.old_bots.append(old)
        self.bot = new
        return new


def _custom_ids(message: discord.Message, prefix: str) -> list[str]:
    return [
        child.custom_id
        for child in walk_components(message.components)
        if isinstance(getattr(child, "custom_id", None), str) and child.custom_id.startswith(prefix)
    ]


def result_job_id(message: discord.Message) -> int:
    """The job a posted result shows (its Reroll button names it)."""
    return int(custom_id(message, "wan:reroll:").rsplit(":", 1)[1])


def custom_id(message: discord.Message, prefix: str) -> str:
    found = _custom_ids(message, prefix)
    assert found, f"no component starting with {prefix!r}"
    return found[0]


def make_config(
    tmp_path: Path,
    kind: str,
    server: FakeProviderServer | None,
    *,
    result_style: str = "card",
    **sections: dict[str, Any],
) -> Config:
    provider: dict[str, Any] = {"kind": kind, "poll_interval_seconds": 2, "sandbox_render_seconds": 10}
    if server is not None:
        provider |= {"base_url": server.base_url, "api_key": API_KEY, "request_timeout_seconds": 5}
    provider |= sections.pop("provider", {})
    data: dict[str, Any] = {
        "database": database_section(tmp_path),
        "provider": provider,
        "loop": {"tick_seconds": 5},
        "delivery": {"result_style": result_style},
    }
    for name, values in sections.items():
        data[name] = data.get(name, {}) | values
    return config_from_mapping(data, environ={})


WorldFactory = Callable[..., Awaitable[World]]


@asynccontextmanager
async def open_world(
    tmp_path: Path,
    kind: str = "sandbox",
    *,
    log_bodies: bool = False,
    result_style: str = "card",
    **sections: dict[str, Any],
) -> AsyncIterator[World]:
    server: FakeProviderServer | None = None
    env_holder: dict[str, simcord.Env] = {}

    def virtual_clock() -> float:
        env = env_holder.get("env")
        return env.now().timestamp() if env is not None else 0.0

    server_options = sections.pop("server", {})
    if kind == "wan26ai":
        server = FakeWan26ai(api_key=API_KEY, clock=virtual_clock, render_seconds=40, **server_options)
    elif kind == "apimall":
        server = FakeApimall(api_key=API_KEY, clock=virtual_clock, render_seconds=40, **server_options)
    if server is not None:
        await server.start()
    config = make_config(tmp_path, kind, server, result_style=result_style, **sections)
    bot = create_bot(config, log_bodies=log_bodies)
    try:
        async with simcord.run(bot) as env:
            env_holder["env"] = env
            guild = env.create_guild(name="Test Server")
            channel = guild.create_text_channel("videos")
            mods = guild.create_role("Mods", permissions=discord.Permissions(manage_messages=True))
            admins = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
            world = World(
                env=env,
                bot=bot,
                config=config,
                guild=guild,
                channel=channel,
                alice=guild.add_member(env.create_user("alice")),
                bob=guild.add_member(env.create_user("bob")),
                mod=guild.add_member(env.create_user("mod"), roles=[mods]),
                admin=guild.add_member(env.create_user("admin"), roles=[admins]),
                server=server,
            )
            await bot.tree.sync()
            try:
                yield world
            finally:
                await world.bot.close()
                for old in world.old_bots:
                    if old.ops_server is not None:  # a crashed process's port is freed by the OS
                        await old.ops_server.stop()
                    if old.db is not None:
                        await old.db.close()
                    if old.http_session is not None:
                        await old.http_session.close()
    finally:
        if server is not None:
            await server.stop()


# How results look (``[delivery] result_style``). Tests about what a result, review message or
# report notice shows run in both: ``@pytest.mark.parametrize("result_style", STYLES)``.
STYLES = ("card", "classic")


@pytest.fixture
def result_style() -> str:
    return "card"


@pytest.fixture
def world_factory(tmp_path: Path, result_style: str) -> Callable[..., Any]:
    return lambda kind="sandbox", **options: open_world(tmp_path, kind, **({"result_style": result_style} | options))
