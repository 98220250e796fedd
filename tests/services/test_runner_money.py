"""The runner never throws away a render the operator paid for: a job at its time limit is asked
about once more, and a task id the provider gave is never dropped because the database was busy.

Real SQLite file (locked by a second real connection), real adapters, loopback provider fakes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.domain.models import JobState
from tests.services.rig import Rig, open_rig


async def test_after_downtime_every_overdue_job_is_asked_about_before_any_is_ended(tmp_path: Path) -> None:
    async with open_rig(tmp_path, "wan26ai", job_timeout_minutes=5) as rig:
        jobs = [await rig.accept(member_id=member, prompt=f"a harbour at dawn #{member}") for member in (1, 2, 3)]
        await rig.run(2)
        assert len(rig.server.tasks) == 3
        # By the task id each job recorded: the creates may reach the provider in any order.
        tasks = {job.id: job.provider_task_id for job in await rig.jobs() if job.provider_task_id is not None}
        assert set(tasks) == {job.id for job in jobs}
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


# SQLite only: the database is made busy by a second sqlite3 connection holding the write lock past
# the busy timeout; PostgreSQL has no such file-wide lock (its writers wait on rows instead).
@pytest.mark.sqlite_only
async def test_a_task_id_the_database_could_not_record_is_kept_and_recorded_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
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
        # The operator can find the task even if the process had died meanwhile: its id was logged.
        [logged] = [r for r in caplog.records if r.levelname == "ERROR" and "could not be recorded" in r.getMessage()]
        assert f"task={ended.provider_task_id}" in logged.getMessage()


async def test_the_last_check_is_retried_a_few_times_then_the_job_times_out(tmp_path: Path) -> None:
    async with open_rig(tmp_path, "apimall", job_timeout_minutes=5) as rig:
        await rig.accept(member_id=1)
        await rig.run(2)
        [task_id] = rig.server.tasks
        rig.server.set_render_seconds(task_id, 10_000)
        rig.clock.advance(10 * 60)
        rig.server.inject("status", status=503, times=10)  # the provider is down when the limit comes
        checks_before = len(rig.server.requests_to("status"))
        await rig.run(600)
        [ended] = await rig.jobs()
        assert ended.state is JobState.TIMED_OUT
        assert len(rig.server.requests_to("status")) - checks_before == 3  # asked, but not forever
        assert rig.server.pending_faults("status") == 7


async def test_a_lost_create_past_the_limit_is_resolved_with_the_same_key_first(tmp_path: Path) -> None:
    async with open_rig(tmp_path, "apimall", job_timeout_minutes=5) as rig:
        job = await rig.accept(member_id=1)
        rig.server.inject("generate", drop=True)  # the task is made; its answer is lost
        rig.server.inject("generate", status=503, retry_after=600)  # the resend waits past the limit
        await rig.run(10)
        assert len(rig.server.tasks) == 1 and len(rig.server.requests_to("generate")) == 2
        rig.clock.advance(10 * 60)
        await rig.run(180)
        creates = rig.server.requests_to("generate")
        assert len(creates) == 3 and {create.idempotency_key for create in creates} == {job.idempotency_key}
        assert len(rig.server.tasks) == 1  # the resend found the same task
        [ended] = await rig.jobs()
        assert ended.state is JobState.DELIVERED and rig.events.delivered[job.id] == 1


async def test_budget_spend_follows_what_the_provider_charged(tmp_path: Path) -> None:
    async with open_rig(tmp_path, "wan26ai", job_timeout_minutes=5) as rig:
        delivered, failed, stuck, cancelled = [
            await rig.accept(member_id=member, prompt=f"a windmill #{member}") for member in (1, 2, 3, 4)
        ]
        await rig.services.jobs.cancel(delivered.guild_id, cancelled.id, cancelled.member_id)
        spend = rig.services.stats.spend
        assert await spend.spent(delivered.guild_id, None) == 3 * 80  # a cancel frees its share at once
        await rig.run(2)
        # By the task id each job recorded: the creates may reach the provider in any order.
        tasks = {job.id: job.provider_task_id for job in await rig.jobs() if job.provider_task_id is not None}
        assert set(tasks) == {delivered.id, failed.id, stuck.id}
        rig.server.fail(tasks[failed.id], "GPU node lost")
        rig.server.set_render_seconds(tasks[stuck.id], 10_000)
        await rig.run(8 * 60)
        states = {job.id: job.state for job in await rig.jobs()}
        assert [states[job.id] for job in (delivered, failed, stuck, cancelled)] == [
            JobState.DELIVERED,
            JobState.FAILED,
            JobState.TIMED_OUT,
            JobState.CANCELLED,
        ]
        # The provider refunded the failed render; it charged for the other two (still rendering one included).
        summary = await spend.summary(delivered.guild_id, None)
        assert (summary.spent, summary.jobs, summary.given_back, summary.provider_charged) == (160, 2, 80, 160)
        assert await spend.spent(delivered.guild_id, None) == 160
