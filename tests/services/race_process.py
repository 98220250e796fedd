"""One bot process's acceptance path, racing others on one PostgreSQL database.

    python -m tests.services.race_process URL FOLDER NAME

Wired as the bot wires it (``build_guarded``: allowances, fairness limits, budget caps), it
writes FOLDER/NAME.ready once connected, waits until FOLDER/go exists so every process starts
at once, fires every accept concurrently and writes what happened to FOLDER/NAME.json:
accepted job ids and refusal kinds.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bot.config import PriceTable
from bot.errors import UserFacingError
from bot.storage.db import Database
from tests.support import ManualClock, build_guarded, request

# Two servers: A with four members, B with two. Each member has room for three holds.
GUILD_A, GUILD_B = 1000, 2000
MEMBERS = {GUILD_A: (11, 12, 13, 14), GUILD_B: (21, 22)}
PRICE = PriceTable().price("720p", 5)  # the default spec's price
HOLDS_PER_MEMBER = 3
SERVER_CAP = 10 * PRICE  # binds in A (12 holds of room), never in B (6)
GLOBAL_CAP = 14 * PRICE  # binds overall: 10 + 6 > 14
ATTEMPTS_PER_MEMBER = 5  # per process
ALLOWANCE = HOLDS_PER_MEMBER * PRICE + PRICE - 1  # a fourth hold never fits


def sections() -> dict[str, dict[str, Any]]:
    return {
        "credits": {"default_allowance": ALLOWANCE, "refill_period": "weekly"},
        "limits": {"cooldown_seconds": 0, "max_running_per_member": 100, "max_in_flight": 1000},
        "budget": {"server_cap": SERVER_CAP, "global_cap": GLOBAL_CAP, "period": "monthly"},
    }


async def main(url: str, ready_file: Path, go_file: Path) -> dict[str, Any]:
    db = await Database.open(url)
    try:
        guarded = build_guarded(db, ManualClock(), **sections())
        assert guarded.core.jobs.price(request(1).spec) == PRICE
        await db.fetchval("SELECT 1")
        ready_file.touch()  # noqa: ASYNC240 - before the race
        while not go_file.exists():  # noqa: ASYNC110, ASYNC240 - a file is the only barrier shared between processes
            await asyncio.sleep(0.005)
        attempts = [
            guarded.core.jobs.accept(request(member, guild_id=guild))
            for _ in range(ATTEMPTS_PER_MEMBER)
            for guild, members in MEMBERS.items()
            for member in members
        ]
        results = await asyncio.gather(*attempts, return_exceptions=True)
    finally:
        await db.close()
    unexpected = [repr(r) for r in results if isinstance(r, BaseException) and not isinstance(r, UserFacingError)]
    refusals = Counter(type(r).__name__ for r in results if isinstance(r, UserFacingError))
    accepted = [r.job.id for r in results if not isinstance(r, BaseException)]
    return {"accepted": accepted, "refusals": refusals, "unexpected": unexpected}


if __name__ == "__main__":
    folder = Path(sys.argv[2])
    name = sys.argv[3]
    report = asyncio.run(main(sys.argv[1], folder / f"{name}.ready", folder / "go"))
    (folder / f"{name}.json").write_text(json.dumps(report))
