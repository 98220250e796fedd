"""A tick's transitions are units of work: many due jobs share commits, one job's refused write
leaves the others' alone, and a delivered job is settled once however two processes race.

Real SQLite file or PostgreSQL database, real adapters, the loopback provider fake; the second
process is its own ``Database`` on the same database (tests/services/test_leases.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot.domain.clock import to_ts
from bot.domain.models import Job, JobState, LedgerKind
from bot.services.credits import MemberContext
from tests.services.rig import Rig, open_rig
from tests.services.test_leases import LEASE_SECONDS, job, name, second_process, tick_until
from tests.support import GUILD

JOBS = 24


async def rendering_jobs(rig: Rig, count: int) -> list[Job]:
    """``count`` jobs from different members, all rendering at the fake (for a long while)."""
    rig.server.render_seconds = 10_000
    accepted = [await rig.accept(member_id=member, prompt=f"a harbour at dawn #{member}") for member in range(count)]
    for _ in range(20):
        jobs = [await job(rig, j.id) for j in accepted]
        if all(j.state is JobState.RENDERING for j in jobs):
            return jobs
        rig.clock.advance(30)
        await rig.services.runner.tick()
    raise AssertionError(f"not all rendering: {[j.state.value for j in jobs]}")


async def make_due(rig: Rig, jobs: list[Job]) -> None:
    async with rig.db.transaction() as tx:
        for found in jobs:
            await tx.execute(
                "UPDATE jobs SET next_check_at = ? WHERE id = ?", (to_ts(rig.clock() - timedelta(seconds=1)), found.id)
            )


def before_answering(rig: Rig, task_id: str, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` when the runner asks the provider about ``task_id``, before the answer comes back."""
    original: Callable[..., Awaitable[Any]] = rig.services.runner.provider.status

    async def status(asked: str) -> Any:
        answer = await original(asked)
        if asked == task_id:
            await action()
        return answer

    rig.services.runner.provider.status = status  # type: ignore[method-assign]


async def test_many_due_jobs_in_one_tick_are_all_checked_and_share_commits(tmp_path: Any) -> None:
    async with open_rig(tmp_path) as rig:
        jobs = await rendering_jobs(rig, JOBS)
        rig.clock.advance(2)
        await make_due(rig, jobs)
        checks_before = len(rig.server.requests_to("status"))
        before = rig.db.stats.copy()

        report = await rig.services.runner.tick()

        after = rig.db.stats
        assert report.checked == JOBS and report.errors == 0
        assert len(rig.server.requests_to("status")) - checks_before == JOBS
        for checked in [await job(rig, j.id) for j in jobs]:
            # Each one checked and rescheduled by its own status answer.
            assert checked.state is JobState.RENDERING
            assert checked.next_check_at is not None and checked.next_check_at > rig.clock()
        # One unit per due job (its transition; no separate lease check), plus the claim.
        assert after.units - before.units == JOBS + 1
        if rig.db.backend == "sqlite":
            # Units that arrive while a commit runs share the next one.
            assert after.commits - before.commits < JOBS
        else:
            assert after.commits - before.commits <= JOBS + 1  # one transaction per unit
        assert await rig.money_problems() == []


async def test_a_job_taken_over_mid_check_is_refused_and_the_others_are_delivered(tmp_path: Any) -> None:
    async with open_rig(tmp_path) as rig:
        jobs = await rendering_jobs(rig, 8)
        taken = jobs[3]
        assert taken.provider_task_id is not None

        async def take_over() -> None:
            # Another process claims the job while this one waits for the provider's answer.
            await rig.db.fetchval(
                "UPDATE jobs SET lease_owner = 'process-b', lease_epoch = lease_epoch + 1 WHERE id = ?"
                " RETURNING lease_epoch",
                (taken.id,),
            )

        before_answering(rig, taken.provider_task_id, take_over)
        for found in jobs:
            assert found.provider_task_id is not None
            rig.server.finish(found.provider_task_id)
        rig.clock.advance(2)
        await make_due(rig, jobs)

        report = await rig.services.runner.tick()

        assert report.errors == 0
        after = {j.id: await job(rig, j.id) for j in jobs}
        # The stale write was refused: the job stays as the other process has it, unpaid and unposted.
        assert after[taken.id].state is JobState.RENDERING and after[taken.id].lease_owner == "process-b"
        assert rig.events.delivered[taken.id] == 0
        others = [j for j in jobs if j.id != taken.id]
        assert all(after[j.id].state is JobState.DELIVERED for j in others)
        assert [rig.events.delivered[j.id] for j in others] == [1] * len(others)
        settled = [e.job_id for e in await rig.storage.ledger.entries(GUILD) if e.kind is LedgerKind.SETTLE]
        assert sorted(settled) == sorted(j.id for j in others)
        assert await rig.money_problems() == []


async def test_a_delivered_job_is_settled_once_when_two_processes_race_to_finish_it(tmp_path: Any) -> None:
    async with open_rig(tmp_path) as rig, second_process(rig) as other:
        a = name(rig.services.runner, "process-a")
        b = name(other.runner, "process-b")
        posted, wake = asyncio.Event(), asyncio.Event()
        finish = a._finish_delivery

        async def finish_late(*args: Any, **kwargs: Any) -> None:
            # A posted the video, then stalled past its lease before writing "delivered".
            posted.set()
            await wake.wait()
            await finish(*args, **kwargs)

        a._finish_delivery = finish_late  # type: ignore[method-assign]
        accepted = await rig.accept(member_id=1)
        balance_before = await rig.services.credits.balance(GUILD, MemberContext(1))
        for _ in range(100):
            if posted.is_set():
                break
            rig.clock.advance(2)
            await a.tick()
        assert posted.is_set() and (await job(rig, accepted.id)).state is JobState.DELIVERING

        rig.clock.advance(LEASE_SECONDS + 1)
        finished = await tick_until(rig, b, lambda j: j.state is JobState.DELIVERED, accepted.id)
        wake.set()  # A wakes and writes its own "delivered": fenced off, nothing settled twice
        await a.wait_unfinished(5)

        after = await job(rig, accepted.id)
        assert after.state is JobState.DELIVERED and after.lease_epoch == finished.lease_epoch
        assert rig.events.delivered[accepted.id] == 1  # B found A's post instead of posting again
        entries = [e for e in await rig.storage.ledger.entries(GUILD) if e.job_id == accepted.id]
        assert [e.kind for e in entries].count(LedgerKind.SETTLE) == 1
        balance = await rig.services.credits.balance(GUILD, MemberContext(1))
        assert balance.held == 0 and balance.available == balance_before.available  # the price kept once
        assert await rig.money_problems() == []


async def test_a_step_that_waited_past_its_lease_asks_again_and_leaves_a_taken_job_alone(tmp_path: Any) -> None:
    async with open_rig(tmp_path) as rig, second_process(rig) as other:
        a = name(rig.services.runner, "process-a")
        b = name(other.runner, "process-b")
        first, second = await rendering_jobs(rig, 2)
        assert first.provider_task_id is not None and second.provider_task_id is not None
        a.settings.concurrency = 1  # the second job's step waits for the first one's
        gate, asking = asyncio.Event(), asyncio.Event()
        status: Callable[..., Awaitable[Any]] = a.provider.status

        async def slow_for_first(task_id: str) -> Any:
            if task_id == first.provider_task_id:
                asking.set()
                await gate.wait()  # A stalls here, holding its only step slot
            return await status(task_id)

        a.provider.status = slow_for_first  # type: ignore[method-assign]
        rig.clock.advance(2)
        async with rig.db.transaction() as tx:
            for due, seconds in ((first, 2), (second, 1)):
                at = rig.clock() - timedelta(seconds=seconds)
                await tx.execute("UPDATE jobs SET next_check_at = ? WHERE id = ?", (to_ts(at), due.id))
        ticking = asyncio.create_task(a.tick())  # claims both, then stalls on the first
        await asyncio.wait_for(asking.wait(), 5)

        rig.clock.advance(LEASE_SECONDS + 1)  # both of A's leases run out while it stalls
        await b.tick()  # B takes both over and checks them
        assert (await job(rig, second.id)).lease_owner == "process-b"
        asked_before = [r.path.rsplit("/", 1)[-1] for r in rig.server.requests_to("status")]

        gate.set()
        await asyncio.wait_for(ticking, 5)
        # A's step for the second job came after a lease's length: it asked storage first, found the
        # job taken, and did not call the provider about it.
        asked_after = [r.path.rsplit("/", 1)[-1] for r in rig.server.requests_to("status")]
        assert second.provider_task_id in asked_before  # B asked about it (the path names the task)
        assert asked_after[len(asked_before) :].count(second.provider_task_id) == 0
        taken = await job(rig, second.id)
        assert taken.lease_owner == "process-b" and taken.state is JobState.RENDERING
        assert await rig.money_problems() == []
