"""Three real processes accept for the same members and servers at once on PostgreSQL: the member,
server-budget and global-budget locks keep every balance and cap true (READ COMMITTED alone
overdraws). On SQLite one writer at a time already guarantees it (test_credits.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.services.credits import MemberContext
from bot.storage.db import Database
from bot.storage.ledger import LedgerRepository
from tests.backends import Backend
from tests.services import race_process as race
from tests.support import ManualClock, build_guarded

pytestmark = pytest.mark.postgres_only

REPO = Path(__file__).resolve().parents[2]
PROCESSES = 3


async def test_three_processes_never_overdraw_nor_cross_a_cap(tmp_path: Path, backend: Backend) -> None:
    url = backend.target(tmp_path)
    db = await Database.open(url)  # migrated and refilled once, before the race: it is about holds
    try:
        guarded = build_guarded(db, ManualClock(), **race.sections())
        for guild, members in race.MEMBERS.items():
            for member in members:
                await guarded.core.credits.balance(guild, MemberContext(member))
    finally:
        await db.close()
    names = [f"p{index}" for index in range(PROCESSES)]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.services.race_process",
            url,
            str(tmp_path),
            name,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in names
    ]
    while not all((tmp_path / f"{name}.ready").exists() for name in names):
        if any(process.returncode is not None for process in processes):
            break
        await asyncio.sleep(0.01)
    (tmp_path / "go").touch()
    finished = [await process.communicate() for process in processes]
    assert [p.returncode for p in processes] == [0] * PROCESSES, [err.decode()[-2000:] for _, err in finished]
    reports = [json.loads((tmp_path / f"{name}.json").read_text()) for name in names]
    assert [r["unexpected"] for r in reports] == [[]] * PROCESSES
    accepted = [job_id for report in reports for job_id in report["accepted"]]
    attempts = race.ATTEMPTS_PER_MEMBER * sum(len(members) for members in race.MEMBERS.values())
    assert [len(r["accepted"]) + sum(r["refusals"].values()) for r in reports] == [attempts] * PROCESSES

    db = await Database.open(url)
    try:
        ledger = LedgerRepository(db)
        holds = await db.fetchall("SELECT guild_id, member_id, job_id, amount FROM ledger WHERE kind = 'hold'")
        jobs = await db.fetchall("SELECT id, guild_id, member_id, price FROM jobs")
        # The global cap binds exactly: 10 in A + 6 in B would fit the servers, 14 fit the account.
        assert len(accepted) == len(set(accepted)) == len(jobs) == len(holds) == race.GLOBAL_CAP // race.PRICE
        assert sorted(row["job_id"] for row in holds) == sorted(accepted)
        per_guild = Counter(row["guild_id"] for row in holds)
        assert per_guild[race.GUILD_A] * race.PRICE <= race.SERVER_CAP
        assert sum(row["amount"] for row in holds) <= race.GLOBAL_CAP
        for guild, members in race.MEMBERS.items():
            for member in members:
                balance = await ledger.balance(guild, member)
                mine = [row for row in holds if row["member_id"] == member]
                assert balance.available >= 0, (guild, member, balance)
                assert len(mine) <= race.HOLDS_PER_MEMBER
                # Balanced: what was credited equals what is available plus what is held.
                credited = await db.fetchval(
                    "SELECT SUM(amount) FROM ledger WHERE guild_id = ? AND member_id = ? AND kind = 'refill'",
                    (guild, member),
                )
                assert credited == balance.available + balance.held == race.ALLOWANCE
                assert balance.held == sum(row["amount"] for row in mine)
    finally:
        await db.close()
