"""Job leases across processes: two runners, each with its own Database on one shared database
(a SQLite file or one PostgreSQL database), as two bot processes would be.

A runner works on a job only under its lease; a stalled owner's late write is refused (the fencing
epoch); a dead owner's job is taken over once its lease runs out and delivered exactly once; and
the provider never has more than ``max_in_flight`` jobs from both together.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.domain.models import Job, JobState
from bot.providers.factory import build_provider
from bot.services.container import Services, build_services
from bot.services.runner import JobRunner
from bot.storage.db import Database
from tests.services.rig import Rig, open_rig

LEASE_SECONDS = 20.0


@asynccontextmanager
async def second_process(rig: Rig, *, single_process: bool = False) -> AsyncIterator[Services]:
    """Another bot on the same database: its own Database, HTTP session and provider adapter.
    It shares only what two processes share: the database, the provider, Discord, the clock."""
    config = rig.config
    db = await Database.open(config.database.target, single_process=single_process)
    try:
        async with aiohttp.ClientSession() as session:
            adapter = build_provider(config.provider, session, rig.clock)
            yield build_services(
                config=config, db=db, session=session, provider=adapter, clock=rig.clock, events=rig.events
            )
    finally:
        await db.close()


def name(runner: JobRunner, owner: str, *, max_in_flight: int | None = None) -> JobRunner:
    runner.settings.owner = owner
    runner.settings.lease_seconds = LEASE_SECONDS
    if max_in_flight is not None:
        runner.queue.max_in_flight = max_in_flight
    return runner


async def job(rig: Rig, job_id: int) -> Job:
    found = await rig.storage.job_repo.get(job_id)
    assert found is not None
    return found


async def tick_until(rig: Rig, runner: JobRunner, done: Callable[[Job], bool], job_id: int) -> Job:
    for _ in range(200):
        current = await job(rig, job_id)
        if done(current):
            return current
        rig.clock.advance(2)
        await runner.tick()
    raise AssertionError(f"job {job_id} never got there: {await job(rig, job_id)}")


def stall(runner: JobRunner, method: str) -> asyncio.Event:
    """Make this runner's next ``method`` call on its provider adapter hang until the event is set
    (a process paused by the OS, a long GC, a network stall), then go on as usual."""
    gate = asyncio.Event()
    original: Callable[..., Awaitable[Any]] = getattr(runner.provider, method)

    async def stalled(*args: Any) -> Any:
        await gate.wait()
        return await original(*args)

    setattr(runner.provider, method, stalled)
    return gate


async def test_a_stalled_owners_late_write_is_refused(tmp_path: Any) -> None:
    async with open_rig(tmp_path) as rig, second_process(rig) as other:
        rig.server.render_seconds = 600
        a = name(rig.services.runner, "process-a")
        b = name(other.runner, "process-b")
        accepted = await rig.accept(member_id=1)
        submitted = await tick_until(rig, a, lambda j: j.state is JobState.SUBMITTED, accepted.id)
        assert submitted.provider_task_id is not None

        gate = stall(a, "status")
        # A claims the job for its status check and hangs inside the call.
        await tick_until(rig, a, lambda j: j.lease_owner == "process-a" and j.id in a._leases, accepted.id)
        rig.clock.advance(LEASE_SECONDS / 2)
        await b.tick()
        assert (await job(rig, accepted.id)).lease_owner == "process-a"  # not B's while A's lease lasts

        rig.clock.advance(LEASE_SECONDS)
        await b.tick()  # A's lease ran out: B takes the job over and checks it (still rendering)
        taken = await job(rig, accepted.id)
        assert taken.state is JobState.RENDERING and taken.lease_epoch == submitted.lease_epoch + 2

        rig.server.finish(submitted.provider_task_id)
        gate.set()  # A wakes up, hears "succeeded", and tries to move the job on
        await a.wait_unfinished(5)
        after = await job(rig, accepted.id)
        assert after.state is JobState.RENDERING and after.lease_epoch == taken.lease_epoch  # refused
        assert rig.events.delivered[accepted.id] == 0

        await tick_until(rig, b, lambda j: j.state is JobState.DELIVERED, accepted.id)
        assert rig.events.delivered[accepted.id] == 1
        assert await rig.money_problems() == []


async def test_a_dead_owners_delivery_is_taken_over_and_posted_once(tmp_path: Any) -> None:
    async with open_rig(tmp_path) as rig, second_process(rig) as other:
        a = name(rig.services.runner, "process-a")
        b = name(other.runner, "process-b")
        dead = asyncio.Event()

        async def die_after_posting(*args: Any, **kwargs: Any) -> None:
            dead.set()
            await asyncio.Event().wait()  # never comes back, never writes: the process is gone

        a._finish_delivery = die_after_posting  # type: ignore[method-assign]
        accepted = await rig.accept(member_id=1)
        for _ in range(100):
            if dead.is_set():
                break
            rig.clock.advance(2)
            await a.tick()
        assert dead.is_set() and rig.events.delivered[accepted.id] == 1
        assert (await job(rig, accepted.id)).state is JobState.DELIVERING

        rig.clock.advance(LEASE_SECONDS / 2)
        await b.tick()
        assert (await job(rig, accepted.id)).state is JobState.DELIVERING  # A's lease still holds it

        rig.clock.advance(LEASE_SECONDS)
        await b.tick()  # taken over: B finds A's post instead of posting again
        delivered = await job(rig, accepted.id)
        assert delivered.state is JobState.DELIVERED and delivered.result_message_id == 10_000 + accepted.id
        assert rig.events.delivered[accepted.id] == 1
        assert await rig.money_problems() == []
        for step in list(a._unfinished):
            step.cancel()


async def test_a_wan26ai_create_on_the_wire_is_not_resent_by_the_process_that_takes_over(tmp_path: Any) -> None:
    async with open_rig(tmp_path, "wan26ai") as rig, second_process(rig) as other:
        a = name(rig.services.runner, "process-a")
        b = name(other.runner, "process-b")
        stall(a, "submit")  # A marks the create on the wire, then hangs before it reaches the provider
        accepted = await rig.accept(member_id=1)
        await tick_until(rig, a, lambda j: j.submit_in_flight, accepted.id)

        rig.clock.advance(LEASE_SECONDS + 1)
        ended = await tick_until(rig, b, lambda j: j.state.is_released and j.notified, accepted.id)
        assert ended.error_code == "submit_unconfirmed"
        assert rig.server.requests_to("generate") == []  # B never sent it again
        assert await rig.money_problems() == []
        for step in list(a._unfinished):
            step.cancel()


async def test_two_processes_never_have_more_than_max_in_flight_at_the_provider(tmp_path: Any) -> None:
    async with open_rig(tmp_path) as rig, second_process(rig) as other:
        runners = [name(rig.services.runner, "process-a", max_in_flight=2), name(other.runner, "b", max_in_flight=2)]
        accepted = [await rig.accept(member_id=member) for member in range(1, 7)]
        most = 0
        for _ in range(150):
            rig.clock.advance(2)
            await asyncio.gather(*(runner.tick() for runner in runners))
            most = max(most, rig.server.unfinished())
            jobs = [await job(rig, j.id) for j in accepted]
            if all(j.state is JobState.DELIVERED for j in jobs):
                break
        assert most == 2
        assert all(j.state is JobState.DELIVERED for j in jobs)
        assert sorted(rig.events.delivered.values()) == [1] * 6
        assert len(rig.server.requests_to("generate")) == 6
        assert await rig.money_problems() == []


@pytest.mark.sqlite_only
async def test_the_one_process_on_a_sqlite_file_takes_a_dead_processes_leases_at_once(tmp_path: Any) -> None:
    # The bot holds the file's process lock, so whoever left a lease in it is dead: no waiting.
    async with open_rig(tmp_path) as rig:
        rig.server.render_seconds = 600
        a = name(rig.services.runner, "process-a")
        accepted = await rig.accept(member_id=1)
        await tick_until(rig, a, lambda j: j.state is JobState.SUBMITTED, accepted.id)
        stall(a, "status")
        await tick_until(rig, a, lambda j: j.id in a._leases, accepted.id)
        async with second_process(rig, single_process=True) as restarted:
            b = name(restarted.runner, "process-b")
            rig.clock.advance(2)
            await b.tick()  # well within A's lease
            taken = await job(rig, accepted.id)
            assert taken.state is JobState.RENDERING and taken.lease_owner == "process-b"  # checked by B
            assert taken.lease_epoch > 2
        for step in list(a._unfinished):
            step.cancel()


async def test_jobs_another_process_admitted_hold_their_slots_until_its_leases_run_out(tmp_path: Any) -> None:
    async with open_rig(tmp_path) as rig, second_process(rig) as other:
        a = name(rig.services.runner, "process-a", max_in_flight=2)
        b = name(other.runner, "process-b", max_in_flight=2)
        for member in range(1, 5):
            await rig.accept(member_id=member)
        # A admits two jobs and dies before sending them (it never steps them).
        until = rig.clock() + timedelta(seconds=LEASE_SECONDS)
        sent, waiting = await a.queue.admit(rig.clock(), owner="process-a", until=until, busy=set())
        assert len(sent) == 2 and waiting is not None and len(waiting) == 2

        rig.clock.advance(2)
        await b.tick()
        assert rig.server.requests_to("generate") == []  # both slots are A's while its leases last

        rig.clock.advance(LEASE_SECONDS)
        await b.tick()
        assert len(rig.server.requests_to("generate")) == 2  # B takes them over: still two at a time
