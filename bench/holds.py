"""Credit holds per second with 100 members acting at once, and a check that no balance went wrong.

The money path as the bot runs it (``JobService.accept`` → one transaction writing the job
and its hold; ``JobService.cancel`` → one transaction releasing it) on a SQLite file on the
working disk, every commit fsync'd. 100 members each try ``ATTEMPTS`` jobs as fast as they
can, all at once, and cancel every third one they get (so releases interleave with holds).
Each member's allowance covers 25 jobs kept at once, so the last attempts must be refused.

Afterwards the ledger is checked member by member: available = allowance − price × (jobs
held and not cancelled), held = price × the same, nothing negative, one hold per job, one
release per cancelled job. A "balance error" is any member for whom that does not hold, or
any accept that succeeded without the credits for it.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import Row, emit
from bot.errors import InsufficientCredits
from bot.storage.db import Database
from tests.support import GUILD, ManualClock, build_core, request

MEMBERS = 100
ATTEMPTS = 45
PRICE = 80  # 720p, 5 s
ALLOWANCE = 25 * PRICE


async def measure(path: Path) -> dict[str, object]:
    db = await Database.open(path)
    core = build_core(db, ManualClock(), allowance=ALLOWANCE)
    counts: Counter[str] = Counter()
    kept: Counter[int] = Counter()

    async def member(member_id: int) -> None:
        got = 0
        for _ in range(ATTEMPTS):
            try:
                accepted = await core.jobs.accept(request(member_id))
            except InsufficientCredits:
                counts["refused"] += 1
                continue
            counts["holds"] += 1
            got += 1
            if got % 3 == 0:
                await core.jobs.cancel(GUILD, accepted.job.id, member_id)
                counts["releases"] += 1
            else:
                kept[member_id] += 1

    started = time.perf_counter()
    await asyncio.gather(*(member(10_000 + index) for index in range(MEMBERS)))
    seconds = time.perf_counter() - started

    errors = []
    for index in range(MEMBERS):
        member_id = 10_000 + index
        balance = await core.ledger.balance(GUILD, member_id)
        expected_held = kept[member_id] * PRICE
        if (balance.available, balance.held) != (ALLOWANCE - expected_held, expected_held) or balance.available < 0:
            errors.append(f"member {member_id}: {balance} but kept {kept[member_id]} jobs")
    per_job = await db.fetchall(
        "SELECT job_id, SUM(kind = 'hold') AS holds, SUM(kind = 'release') AS releases FROM ledger"
        " WHERE job_id IS NOT NULL GROUP BY job_id"
    )
    errors += [f"job {row['job_id']}: {row['holds']} holds" for row in per_job if row["holds"] != 1]
    errors += [f"job {row['job_id']}: {row['releases']} releases" for row in per_job if row["releases"] > 1]
    await db.close()
    return {"seconds": seconds, "errors": errors, **{key: counts[key] for key in ("holds", "releases", "refused")}}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-holds-", dir=Path.cwd()) as folder:
        r = asyncio.run(measure(Path(folder) / "wanbot.sqlite3"))
    holds, seconds = int(r["holds"]), float(r["seconds"])  # type: ignore[call-overload]
    errors: list[str] = r["errors"]  # type: ignore[assignment]
    rows = [
        Row(
            "credits",
            f"credit holds per second, {MEMBERS} members at once",
            f"{holds / seconds:.0f} /s",
            "",
            f"{holds} holds, {r['releases']} releases, {r['refused']} refusals in {seconds:.1f} s; fsync per commit",
        ),
        Row(
            "credits",
            "balance errors after the run",
            str(len(errors)),
            "0",
            "; ".join(errors[:3]) or "every member: available = allowance − kept, held = kept, none negative",
        ),
    ]
    emit(rows)


if __name__ == "__main__":
    main()
