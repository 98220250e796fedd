"""The offline demo: the real bot, every cog, a real SQLite file and the sandbox provider,
against a simulated Discord (SimCord). No token, no network.

It plays one member's ``/video`` through to the posted video, then ``/credits``, and prints
what a person in the channel would have seen. ``--browser`` (bot/demo_live.py) lets a person use
it in a Discord-like page instead; ``--screenshots DIR`` (bot/demo_tour.py) takes the README's pictures.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord

from bot.assemble import create_bot
from bot.config import config_from_mapping
from bot.ui.channels import walk_components

Write = Callable[[str], None]

_MENTION = re.compile(r"<@!?(\d+)>")
_TIMESTAMP = re.compile(r"<t:(\d+)(?::[tTdDfFR])?>")


def _humanize(text: str, names: dict[int, str]) -> str:
    """Show mentions and timestamps the way a Discord client would render them."""
    text = _MENTION.sub(lambda m: "@" + names.get(int(m.group(1)), m.group(1)), text)
    return _TIMESTAMP.sub(lambda m: datetime.fromtimestamp(int(m.group(1)), UTC).strftime("%Y-%m-%d %H:%M UTC"), text)


def _describe(message: discord.Message) -> list[str]:
    lines = [f"  {message.author.display_name}: {message.content}".rstrip()]
    for embed in message.embeds:
        lines.append(f"    [embed] {embed.title}")
        if embed.description:
            lines.append(f"      {embed.description}")
        for field in embed.fields:
            lines.append(f"      {field.name}: {field.value}")
        if embed.footer and embed.footer.text:
            lines.append(f"      ({embed.footer.text})")
    components = list(walk_components(message.components))
    for text in (c.content for c in components if isinstance(c, discord.components.TextDisplay)):
        lines.append(f"    [card] {text}")  # a Components V2 result card has no content or embed
    for attachment in message.attachments:
        lines.append(f"    [file] {attachment.filename} ({attachment.size:,} bytes)")
    labels = [getattr(child, "label", "") for child in components if getattr(child, "label", "")]
    if labels:
        lines.append("    [buttons] " + " | ".join(labels))
    return lines


async def run_demo(out: Write = print, *, render_seconds: float = 20) -> int:
    try:
        import simcord
    except ImportError:  # pragma: no cover - the README command installs it
        out("The demo needs the 'demo' extra: pip install -e '.[demo]'")
        return 2

    with tempfile.TemporaryDirectory(prefix="wanbot-demo-") as folder:
        database = Path(folder) / "demo.sqlite3"
        config = config_from_mapping(
            {
                "database": {"path": str(database)},
                "provider": {"kind": "sandbox", "sandbox_render_seconds": render_seconds},
            },
            environ={},
            source="demo",
        )
        bot = create_bot(config)
        names: dict[int, str] = {}

        def write(text: str) -> None:
            out(_humanize(text, names))

        write("Wan 2.6 bot, offline demo: simulated Discord, sandbox provider, SQLite at " + str(database))
        async with simcord.run(bot, strict_sync=False) as env:
            guild = env.create_guild(name="Demo Server")
            channel = guild.create_text_channel("videos")
            alice = guild.add_member(env.create_user("alice"))
            # What a bystander sees: the public channel, without anyone's private replies.
            bob = guild.add_member(env.create_user("bob"))
            names.update({alice.id: "alice", bob.id: "bob"})
            await bot.tree.sync()

            prompt = "A golden retriever running through a sunlit meadow, slow motion, cinematic"
            write(f"\n> alice: /video prompt:{prompt} duration:5 resolution:720p")
            result: Any = await alice.slash(channel, "video", prompt=prompt, duration="5", resolution="720p")
            write("  (only alice sees) " + result.response.content.replace("\n", "\n  (only alice sees) "))
            write("\n# #videos right after:")
            for message in channel.history(viewer=bob):
                write("\n".join(_describe(message)))

            write(f"\n... {render_seconds + 10:.0f} seconds pass while the sandbox renders ...")
            await env.advance_time(render_seconds + 10)

            write("\n# #videos now:")
            for message in channel.history(viewer=bob):
                write("\n".join(_describe(message)))

            write("\n> alice: /credits")
            credits: Any = await alice.slash(channel, "credits")
            embed = credits.response.embeds[0]
            for field in embed.fields:
                write(f"  (only alice sees) {field.name}: {field.value}")
            await bot.close()
        write("\nDemo finished: the job was held, rendered, posted with its file and settled.")
    return 0


def _print(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


def main(options: argparse.Namespace | None = None) -> int:
    """The transcript by default; ``--browser`` serves the page, ``--screenshots DIR`` plays the tour."""
    logging.basicConfig(level=logging.WARNING, format="  [log] %(levelname)s %(name)s: %(message)s")
    if options is not None and (getattr(options, "browser", False) or getattr(options, "screenshots", None)):
        # discord.py's start-up notes (no voice, intents) say nothing to a person trying the bot.
        logging.getLogger("discord").setLevel(logging.ERROR)
    if options is not None and getattr(options, "browser", False):
        from bot.demo_live import serve

        return asyncio.run(serve(_print, port=options.port, speed=options.speed))
    if options is not None and getattr(options, "screenshots", None):
        from bot.demo_tour import take_tour

        return asyncio.run(take_tour(_print, Path(options.screenshots)))
    return asyncio.run(run_demo(_print))
