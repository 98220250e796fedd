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

In the same run, two baselines for the physical limit, each the standard library's sqlite3 in
one thread on the bot's own schema (a migrated file), no event loop, the same attempts and
cancels, a round of 100 members per group commit:

- "the bot's statements": exactly the statements the bot's units run (traced from
  ``JobService.accept`` / ``cancel``): the balance with the refill check, the job row with every
  column the bot writes, the hold, the running budget totals (issue 13 item 2), each unit in its
  own SAVEPOINT (what lets one refusal roll back alone, item 1); for a cancel the job read, its
  state change, one read of its hold, settlement and billed flag, the release and the totals. This
  is the limit of this schema's money work, and the target's ratio is taken against it.
- "only the money's SQL": the leanest form (no totals, no savepoints, fewer reads, a short job
  row), printed beside it for reference.

The ratios bot ÷ baseline are printed, so the figure is read against this machine in this minute.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import Row, emit
from bot.errors import InsufficientCredits
from bot.storage.db import Database
from bot.storage.ledger import _BALANCE_AND_REFILL_SQL, _BALANCE_SQL, LedgerRepository
from tests.support import GUILD, Core, ManualClock, build_core, request

MEMBERS = 100
ATTEMPTS = 45
PRICE = 80  # 720p, 5 s
ALLOWANCE = 25 * PRICE


async def measure(path: Path) -> dict[str, object]:
    db = await Database.open(path)
    core = build_core(db, ManualClock(), allowance=ALLOWANCE)
    counts: Counter[str] = Counter()
    kept: Counter[int] = Counter()
    started = time.perf_counter()
    await asyncio.gather(*(member(core, 10_000 + index, ATTEMPTS, counts, kept) for index in range(MEMBERS)))
    seconds = time.perf_counter() - started

    errors = await ledger_errors(db, kept)
    await db.close()
    return {"seconds": seconds, "errors": errors, **{key: counts[key] for key in ("holds", "releases", "refused")}}


async def member(
    core: Core,
    member_id: int,
    attempts: int,
    counts: Counter[str],
    kept: Counter[int],
    unexpected: list[str] | None = None,
) -> None:
    """One member's workload: ``attempts`` accepts as fast as they come, every third job cancelled.

    ``unexpected``: collect other errors there instead of raising them (bench.holds_pg's processes
    report them to their parent).
    """
    got = 0
    # The member's request is the bench's input (the Discord side builds it from the interaction),
    # made once: the baseline has no such step either.
    wanted = request(member_id)
    for _ in range(attempts):
        try:
            accepted = await core.jobs.accept(wanted)
        except InsufficientCredits:
            counts["refused"] += 1
            continue
        except Exception as error:
            if unexpected is None:
                raise
            unexpected.append(f"{type(error).__name__}: {error}"[:200])
            continue
        counts["holds"] += 1
        got += 1
        if got % 3 == 0:
            await core.jobs.cancel(GUILD, accepted.job.id, member_id)
            counts["releases"] += 1
        else:
            kept[member_id] += 1


async def ledger_errors(db: Database, kept: Counter[int]) -> list[str]:
    """Every member's balance against the jobs it kept, and one hold (at most one release) per job.

    ``kept`` counts, per member, the jobs held and not cancelled. Portable SQL: bench.holds_pg
    checks its PostgreSQL runs with the same function.
    """
    ledger = LedgerRepository(db)
    errors = []
    for index in range(MEMBERS):
        member_id = 10_000 + index
        balance = await ledger.balance(GUILD, member_id)
        expected_held = kept[member_id] * PRICE
        if (balance.available, balance.held) != (ALLOWANCE - expected_held, expected_held) or balance.available < 0:
            errors.append(f"member {member_id}: {balance} but kept {kept[member_id]} jobs")
    per_job = await db.fetchall(
        "SELECT job_id, SUM(CASE WHEN kind = 'hold' THEN 1 ELSE 0 END) AS holds,"
        " SUM(CASE WHEN kind = 'release' THEN 1 ELSE 0 END) AS releases FROM ledger"
        " WHERE job_id IS NOT NULL GROUP BY job_id"
    )
    errors += [f"job {row['job_id']}: {row['holds']} holds" for row in per_job if row["holds"] != 1]
    errors += [f"job {row['job_id']}: {row['releases']} releases" for row in per_job if row["releases"] > 1]
    return errors


BASELINE_BATCH = MEMBERS
_JOB_INSERT = (
    "INSERT INTO jobs (guild_id, channel_id, member_id, mode, prompt, duration, resolution, price,"
    " state, provider, idempotency_key, accepted_at, next_check_at)"
    " VALUES (?, 1, ?, 'text-to-video', 'a prompt', 5, '720p', ?, 'accepted', 'sandbox', ?, ?, ?)"
)
_LEDGER_INSERT = (
    "INSERT INTO ledger (guild_id, member_id, kind, amount, job_id, reason, period, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _baseline_connection(path: Path) -> sqlite3.Connection:
    """A file migrated to the bot's schema, opened by the standard library with the bot's pragmas."""

    async def migrate() -> None:
        await (await Database.open(path)).close()

    asyncio.run(migrate())
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def baseline(path: Path) -> tuple[float, int]:
    """Only the money's SQL with stdlib sqlite3 in one thread, no event loop, group commits of about 100.

    Each of the 100 members makes the same 45 attempts, a round at a time (one attempt of every
    member, then the next), with the statements the money needs and nothing else: the refill
    check (and the refill the first time), the balance, the job and its hold; every third job is
    cancelled (the job, its state change, its hold, the check for a settlement, the release).
    Returns holds per second and the number of holds.
    """

    conn = _baseline_connection(path)
    got: Counter[int] = Counter()
    holds = 0
    started = time.perf_counter()
    for _ in range(ATTEMPTS):
        conn.execute("BEGIN IMMEDIATE")
        for index in range(MEMBERS):
            member_id, now = 10_000 + index, time.time()
            if not conn.execute(
                "SELECT 1 FROM ledger WHERE guild_id = ? AND member_id = ? AND kind = 'refill' AND period = ?",
                (GUILD, member_id, "w"),
            ).fetchone():
                conn.execute(_LEDGER_INSERT, (GUILD, member_id, "refill", ALLOWANCE, None, "weekly", "w", now))
            available = conn.execute(_BALANCE_SQL, (GUILD, member_id)).fetchone()[0]
            if available < PRICE:
                continue
            job_id = conn.execute(_JOB_INSERT, (GUILD, member_id, PRICE, f"baseline-{holds}", now, now)).lastrowid
            conn.execute(_LEDGER_INSERT, (GUILD, member_id, "hold", PRICE, job_id, None, None, now))
            holds += 1
            got[member_id] += 1
            if got[member_id] % 3 == 0:
                conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
                conn.execute("UPDATE jobs SET state = 'cancelled' WHERE id = ? AND state = 'accepted'", (job_id,))
                conn.execute("SELECT amount FROM ledger WHERE job_id = ? AND kind = 'hold'", (job_id,)).fetchone()
                conn.execute(
                    "SELECT 1 FROM ledger WHERE job_id = ? AND kind IN ('settle', 'release')", (job_id,)
                ).fetchone()
                conn.execute(_LEDGER_INSERT, (GUILD, member_id, "release", PRICE, job_id, "cancelled", None, now))
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return holds / seconds, holds


_FULL_JOB_INSERT = (
    "INSERT INTO jobs (guild_id, channel_id, member_id, mode, prompt, duration, resolution, image_url,"
    " video_url, price, state, provider, idempotency_key, accepted_at, next_check_at, parent_job_id,"
    " callback_token, interaction_id, upload_limit_bytes)"
    " VALUES (?, 1, ?, 'text-to-video', 'a prompt', 5, '720p', NULL, NULL, ?, 'accepted', 'sandbox', ?, ?, ?,"
    " NULL, ?, NULL, NULL)"
)
_FULL_LEDGER_INSERT = (
    "INSERT INTO ledger (guild_id, member_id, kind, amount, job_id, actor_id, reason, period, created_at)"
    " VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)"
)
_TOTALS_MOVE = (
    "UPDATE budget_totals SET spent = spent + ? WHERE guild_id IN (?, 0)"
    " AND period IN ('daily:d', 'weekly:w', 'monthly:m', 'never:once')"
)
_ENTRY = "SELECT id, guild_id, member_id, kind, amount, job_id, actor_id, reason, created_at"


def baseline_same_statements(path: Path) -> tuple[float, int]:
    """The bot's own statements for the same attempts and cancels, stdlib sqlite3, one thread.

    Rounds of one attempt per member, each round one BEGIN IMMEDIATE … COMMIT, each attempt and
    each cancel in its own SAVEPOINT, as the bot's group commit runs them. Returns holds per
    second and the number of holds.
    """

    conn = _baseline_connection(path)
    conn.execute("INSERT INTO budget_totals (guild_id, period, spent) VALUES (?, 'daily:d', 0)", (GUILD,))
    got: Counter[int] = Counter()
    holds = 0
    started = time.perf_counter()
    for _ in range(ATTEMPTS):
        conn.execute("BEGIN IMMEDIATE")
        for index in range(MEMBERS):
            member_id, now = 10_000 + index, time.time()
            conn.execute("SAVEPOINT unit")
            available, _, refilled = conn.execute(
                _BALANCE_AND_REFILL_SQL, (GUILD, member_id, "w", GUILD, member_id)
            ).fetchone()
            if not refilled:
                conn.execute(_FULL_LEDGER_INSERT, (GUILD, member_id, "refill", ALLOWANCE, None, "weekly", "w", now))
                available += ALLOWANCE
            if available < PRICE:
                conn.execute("RELEASE unit")
                continue
            key, token = f"wanbot-{secrets.token_hex(16)}", secrets.token_urlsafe(24)
            job_id = conn.execute(_FULL_JOB_INSERT, (GUILD, member_id, PRICE, key, now, now, token)).lastrowid
            conn.execute(_FULL_LEDGER_INSERT, (GUILD, member_id, "hold", PRICE, job_id, None, None, now))
            conn.execute(_TOTALS_MOVE, (PRICE, GUILD))
            conn.execute("RELEASE unit")
            holds += 1
            got[member_id] += 1
            if got[member_id] % 3 == 0:
                conn.execute("SAVEPOINT unit")
                conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
                conn.execute(
                    "UPDATE jobs SET state = 'cancelled', finished_at = ?, error_code = 'cancelled',"
                    " error_message = 'Cancelled by you before it was sent.', next_check_at = ?"
                    " WHERE id = ? AND state IN ('accepted')",
                    (now, now, job_id),
                )
                conn.execute(
                    f"{_ENTRY}, (SELECT provider_billed FROM jobs WHERE id = ?) FROM ledger WHERE job_id = ?"
                    f" AND kind = 'hold' UNION ALL {_ENTRY}, NULL FROM ledger WHERE job_id = ?"
                    " AND kind IN ('settle', 'release')",
                    (job_id, job_id, job_id),
                ).fetchall()
                conn.execute(
                    _FULL_LEDGER_INSERT, (GUILD, member_id, "release", PRICE, job_id, "cancelled by member", None, now)
                )
                conn.execute(_TOTALS_MOVE, (-PRICE, GUILD))
                conn.execute("RELEASE unit")
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return holds / seconds, holds


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-holds-", dir=Path.cwd()) as folder:
        r = asyncio.run(measure(Path(folder) / "wanbot.sqlite3"))
        same, same_holds = baseline_same_statements(Path(folder) / "baseline-same.sqlite3")
        limit, baseline_holds = baseline(Path(folder) / "baseline.sqlite3")
    holds, seconds = int(r["holds"]), float(r["seconds"])  # type: ignore[call-overload]
    errors: list[str] = r["errors"]  # type: ignore[assignment]
    rows = [
        Row(
            "credits",
            f"credit holds per second, {MEMBERS} members at once",
            f"{holds / seconds:.0f} /s",
            "",
            f"{holds} holds, {r['releases']} releases, {r['refused']} refusals in {seconds:.1f} s; "
            "every commit fsync'd",
        ),
        Row(
            "credits",
            f"baseline: stdlib sqlite3, the bot's statements, one thread, group commit of {BASELINE_BATCH}",
            f"{same:.0f} /s",
            "",
            f"same run, same attempts and cancels ({same_holds} holds), a SAVEPOINT per unit, budget totals moved",
        ),
        Row(
            "credits",
            "the bot ÷ that baseline",
            f"{holds / seconds / same:.0%}",
            "≥ 60 % (and ≥ 4,000 /s)",
            "ratio in one run",
        ),
        Row(
            "credits",
            f"baseline: stdlib sqlite3, only the money's SQL, group commit of {BASELINE_BATCH}",
            f"{limit:.0f} /s",
            "",
            f"same run ({baseline_holds} holds): no totals, no savepoints, fewer reads, a short job row",
        ),
        Row(
            "credits",
            "the bot ÷ the lean baseline",
            f"{holds / seconds / limit:.0%}",
            "",
            "for reference",
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
