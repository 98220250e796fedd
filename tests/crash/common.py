"""What the crash harness's three processes agree on: the virtual clock and the file layout."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

# SimCord's virtual clock starts at this instant; elapsed virtual seconds are counted from it.
SIMCORD_EPOCH = 1767225600.0  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class VirtualClock:
    """Virtual seconds since the session started: ``speed`` virtual seconds per real second.

    Derived from the wall clock, so every process (and every restart of the bot) reads the
    same time without talking to the others.
    """

    started_wall: float
    speed: float
    offset: float = 60.0  # start a minute in, so nothing the bot does lands at virtual zero

    def __call__(self) -> float:
        return self.offset + (time.time() - self.started_wall) * self.speed


@dataclass(frozen=True)
class Layout:
    """Files in the session directory."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "wanbot.sqlite3"

    @property
    def discord_log(self) -> Path:
        return self.root / "discord.jsonl"

    @property
    def world(self) -> Path:
        return self.root / "world.json"

    @property
    def errors(self) -> Path:
        return self.root / "bot-errors.txt"

    @property
    def provider_port(self) -> Path:
        return self.root / "provider.port"

    def bot_log(self, run: int) -> Path:
        return self.root / "logs" / f"bot-{run:04d}.log"
