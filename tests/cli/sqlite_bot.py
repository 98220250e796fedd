"""The real bot as its own process on SimCord (no network), for tests that need a second process.

    python -m tests.cli.sqlite_bot CONFIG READY_FILE

Writes READY_FILE once the bot has opened its database, then runs until it is killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import simcord

from bot.assemble import create_bot
from bot.config import load_config


async def main(config_path: str, ready_file: Path) -> None:
    bot = create_bot(load_config(config_path))
    async with simcord.run(bot):
        ready_file.write_text("ready")  # noqa: ASYNC240 - once, before waiting forever
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
