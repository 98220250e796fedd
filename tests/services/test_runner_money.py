"""The runner never throws away a render the operator paid for: a job at its time limit is asked
about once more, and a task id the provider gave is never dropped because the database was busy.

Real SQLite file (locked by a second real connection), real adapters, loopback provider fakes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.domain.models import JobState
from tests.services.rig import Rig, open_rig


async def test_after_downtime_every_overdue_job_is_asked_about_before_any_is_ended(tmp_path: Path) -> None:
    async with open_rig(tmp_path, "wan26ai", job_timeout_minutes=5) as rig:
        jobs = [await rig.accept(member_id=member, prompt=f"a harbour at dawn #{member}") for member in (1, 2, 3)]
        await rig.run(2)
        assert len(rig.server.tasks) == 3
        tasks = {job.id: task_id for job, task_id in zip(jobs, rig.server.tasks, strict=True)}
        rig.server.set_render_seconds(tasks[jobs[2].id], 10_000)  # this one is still rendering
        checks_before = len(rig.server.requests_to("status"))

        rig.clock.advance(10 * 60)  # the bot was down past every job's limit; two renders finished meanwhile
        await rig.run(10)

        asked = [request.query["task_id"] for request in rig.server.requests_to("status")[checks_before:]]
        assert set(asked) == set(tasks.values())  # each overdue job was checked
        ended = {job.id: job for job in await rig.jobs()}
        assert ended[jobs[0].id].state is JobState.DELIVERED and ended[jobs[1].id].state is JobState.DELIVERED
        assert rig.events.delivered[jobs[0].id] == 1 and rig.events.delivered[jobs[1].id] == 1
        assert ended[jobs[2].id].state is JobState.TIMED_OUT and rig.events.told[jobs[2].id] == 1
        assert ended[jobs[0].id].provider_charged == 80  # wan26ai's consumed_credits, recorded on the job
        assert await rig.money_problems() == []


async def test_a_render_finished_at_the_limit_is_delivered_not_timed_out(tmp_path: Path) -> None:
    async with open_rig(tmp_path, "apimall", job_timeout_minutes=5) as rig:
        job = await rig.accept(member_id=1)
        await rig.run(2)
        [task_id] = rig.server.tasks
        rig.server.set_render_seconds(task_id, 5 * 60 - 1)  # done one second before the limit
        rig.clock.advance(5 * 60 - 10)  # no check happened in between (the poll schedule spaces them out)
        await rig.run(5 * 60)
        [ended] = await rig.jobs()
        assert ended.state is JobState.DELIVERED and rig.events.delivered[job.id] == 1
        assert (ended.provider_charged, ended.provider_refunded) == (80, 0)


async def hold_write_lock_when_created(rig: Rig, path: str) -> sqlite3.Connection:
    """Wait until the provider has taken the create, then lock the database from another connection,
    the way a backup, a second tool or a slow disk holds it past the bot's busy timeout."""
    while not rig.server.requests_to("generate"):  # noqa: ASYNC110 - the fake has no event to wait on
        await asyncio.sleep(0.005)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_a_task_id_the_database_could_not_record_is_kept_and_recorded_later(tmp_path: Path) -> None:
    async with open_rig(tmp_path, "wan26ai") as rig:
        await rig.db.fetchval("PRAGMA busy_timeout = 100")  # give up on a lock quickly, as after 5 s in production
        job = await rig.accept(member_id=1)
        rig.server.inject("generate", delay=0.3)  # the answer comes after the lock is taken
        locker = asyncio.create_task(hold_write_lock_when_created(rig, rig.db.path))
        await rig.run(2)
        other = await locker
        try:
            await rig.run(20)  # the database stays locked for a while
        finally:
            other.rollback()
            other.close()
        await rig.run(200)

        assert len(rig.server.requests_to("generate")) == 1  # never resent (wan26ai has no idempotency key)
        [ended] = await rig.jobs()
        assert ended.provider_task_id == next(iter(rig.server.tasks))
        assert ended.state is JobState.DELIVERED and rig.events.delivered[job.id] == 1
        assert not rig.events.told[job.id]
        assert await rig.money_problems() == []
