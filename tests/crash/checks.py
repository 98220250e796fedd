"""What must hold after every kill, read from the files the dead bot left behind.

Safety (after every kill): the ledger balances for every member and agrees with every job's
state; no job has two results (or two end notices) in the channel; no job made two provider tasks.
Liveness (after a drain run without kills): every accepted job ended delivered or released,
and every member whose job was released was told.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.crash import discord_log

OPEN_STATES = ("accepted", "submitted", "rendering", "succeeded", "delivering")
RELEASED_STATES = ("failed", "refused", "timed_out", "cancelled")


@dataclass
class Snapshot:
    """The bot's files at one moment."""

    jobs: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    messages: list[discord_log.LoggedMessage]

    @property
    def results(self) -> dict[int, list[int]]:
        found: dict[int, list[int]] = defaultdict(list)
        for message in self.messages:
            job_id = message.result_for
            if job_id is not None:
                found[job_id].append(message.id)
        return found

    @property
    def notices(self) -> Counter[int]:
        return Counter(job_id for message in self.messages if (job_id := message.notice_for) is not None)


def read_snapshot(database: Path, log: Path) -> Snapshot:
    if not database.exists():
        return Snapshot([], [], discord_log.read(log))
    # Read-only, and closed at once: the next bot process must find the file as the last one left it.
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "jobs" not in tables:  # killed before the first migration committed
            return Snapshot([], [], discord_log.read(log))
        jobs = [dict(row) for row in connection.execute("SELECT * FROM jobs ORDER BY id")]
        ledger = [dict(row) for row in connection.execute("SELECT * FROM ledger ORDER BY id")]
    finally:
        connection.close()
    return Snapshot(jobs, ledger, discord_log.read(log))


def ledger_violations(snapshot: Snapshot) -> list[str]:
    problems: list[str] = []
    sums: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    by_job: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for entry in snapshot.ledger:
        sums[(entry["guild_id"], entry["member_id"])][entry["kind"]] += entry["amount"]
        if entry["job_id"] is not None:
            by_job[entry["job_id"]].append(entry)
    open_prices: Counter[tuple[int, int]] = Counter()
    jobs = {job["id"]: job for job in snapshot.jobs}
    for job_id in by_job.keys() - jobs.keys():
        problems.append(f"ledger entries for job {job_id}, which does not exist")
    for job in snapshot.jobs:
        entries = by_job.get(job["id"], [])
        holds = [entry for entry in entries if entry["kind"] == "hold"]
        ends = [entry for entry in entries if entry["kind"] in ("settle", "release")]
        if len(holds) != 1 or holds[0]["amount"] != job["price"]:
            problems.append(f"job {job['id']}: holds {[h['amount'] for h in holds]} for a price of {job['price']}")
        state = job["state"]
        expected = "settle" if state == "delivered" else "release" if state in RELEASED_STATES else None
        if [entry["kind"] for entry in ends] != ([expected] if expected else []):
            problems.append(f"job {job['id']} is {state} but its hold ended {[e['kind'] for e in ends]}")
        if state in OPEN_STATES:
            open_prices[(job["guild_id"], job["member_id"])] += job["price"]
    for member, kinds in sums.items():
        # The bot's own balance formula (bot/storage/ledger.py), recomputed here from the raw entries.
        available = kinds["grant"] + kinds["refill"] + kinds["adjust"] - kinds["hold"] + kinds["release"]
        held = kinds["hold"] - kinds["settle"] - kinds["release"]
        if kinds["grant"] + kinds["refill"] + kinds["adjust"] - kinds["settle"] - held != available:
            problems.append(f"member {member}: grants + refills + adjust - settled - held != available")
        if held < 0 or available < 0:
            problems.append(f"member {member}: held {held}, available {available}")
        if held != open_prices[member]:
            problems.append(f"member {member}: held {held} but open jobs cost {open_prices[member]}")
    return problems


def post_violations(snapshot: Snapshot) -> list[str]:
    problems: list[str] = []
    results = snapshot.results
    jobs = {job["id"]: job for job in snapshot.jobs}
    for job_id, message_ids in results.items():
        if len(message_ids) > 1:
            problems.append(f"job {job_id} was posted {len(message_ids)} times: {message_ids}")
        job = jobs.get(job_id)
        if job is None:
            problems.append(f"a result was posted for job {job_id}, which does not exist")
        elif job["state"] in RELEASED_STATES:
            problems.append(f"job {job_id} was posted but its credits were released ({job['state']})")
    for job_id, count in snapshot.notices.items():
        if count > 1:
            problems.append(f"job {job_id}: the member was told {count} times that it ended")
    for job in snapshot.jobs:
        if job["state"] == "delivered" and job["result_message_id"] not in results.get(job["id"], []):
            problems.append(f"job {job['id']} is delivered as message {job['result_message_id']}, not in the channel")
    return problems


def provider_violations(snapshot: Snapshot, provider: dict[str, Any], kind: str) -> list[str]:
    """No job made two paid tasks. apimall: tasks per Idempotency-Key; wan26ai: per job prompt."""
    problems: list[str] = []
    field_name = "idempotency_key" if kind == "apimall" else "prompt"
    tasks_for: dict[str, list[str]] = defaultdict(list)
    for task in provider["tasks"]:
        tasks_for[str(task[field_name])].append(task["task_id"])
    jobs_by = {str(job[field_name]): job for job in snapshot.jobs}
    for value, task_ids in tasks_for.items():
        job = jobs_by.get(value)
        if job is None:
            problems.append(f"provider tasks {task_ids} belong to no job ({field_name}={value[:40]!r})")
            continue
        if len(task_ids) > 1:
            problems.append(f"job {job['id']} made {len(task_ids)} provider tasks: {task_ids}")
        if job["provider_task_id"] is not None and job["provider_task_id"] not in task_ids:
            problems.append(f"job {job['id']} follows task {job['provider_task_id']}, not one it made")
    return problems


def safety_violations(snapshot: Snapshot, provider: dict[str, Any], kind: str) -> list[str]:
    return ledger_violations(snapshot) + post_violations(snapshot) + provider_violations(snapshot, provider, kind)


def liveness_violations(snapshot: Snapshot) -> list[str]:
    problems: list[str] = []
    notices = snapshot.notices
    for job in snapshot.jobs:
        if job["state"] in OPEN_STATES:
            problems.append(f"job {job['id']} is still {job['state']} after the drain")
        elif job["state"] in RELEASED_STATES and job["state"] != "cancelled" and not notices[job["id"]]:
            problems.append(f"job {job['id']} was {job['state']} but the member was never told")
    return problems


@dataclass
class KillMoment:
    """What one kill interrupted, judged from the files it left."""

    open_by_state: Counter[str] = field(default_factory=Counter)
    create_on_the_wire: int = 0  # submit_in_flight: a create may have reached the provider
    posted_not_recorded: int = 0  # the result is in the channel, the database still says delivering
    told_not_recorded: int = 0  # the end notice is in the channel, the database says not notified

    @classmethod
    def of(cls, snapshot: Snapshot) -> KillMoment:
        moment = cls()
        results, notices = snapshot.results, snapshot.notices
        for job in snapshot.jobs:
            if job["state"] in OPEN_STATES:
                moment.open_by_state[job["state"]] += 1
            if job["submit_in_flight"]:
                moment.create_on_the_wire += 1
            if job["state"] == "delivering" and results.get(job["id"]):
                moment.posted_not_recorded += 1
            if job["state"] in RELEASED_STATES and not job["notified"] and notices[job["id"]]:
                moment.told_not_recorded += 1
        return moment
