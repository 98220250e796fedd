"""The provider queue's order: one job per member in turn, jobs at the provider counting as turns."""

from __future__ import annotations

from bot.domain.models import JobState
from bot.storage.db import Database
from tests.support import ManualClock, build_core, request, spec


async def queue(jobs: list[tuple[int, str]], db: Database, clock: ManualClock) -> tuple[list[int], dict[int, str]]:
    core = build_core(db, clock, allowance=10_000)
    prompts: dict[int, str] = {}
    for member, prompt in jobs:
        accepted = await core.jobs.accept(request(member, spec(prompt)))
        prompts[accepted.job.id] = prompt
        clock.advance(1)
    return [job.id for job in await core.job_repo.waiting()], prompts


async def test_members_take_turns(db: Database, clock: ManualClock) -> None:
    order, prompts = await queue(
        [(1, "a1"), (1, "a2"), (1, "a3"), (1, "a4"), (2, "b1"), (3, "c1"), (2, "b2")], db, clock
    )
    assert [prompts[job_id] for job_id in order] == ["a1", "b1", "c1", "a2", "b2", "a3", "a4"]


async def test_jobs_at_the_provider_count_as_turns_taken(db: Database, clock: ManualClock) -> None:
    order, prompts = await queue([(1, "a1"), (1, "a2"), (2, "b1")], db, clock)
    first = order[0]
    async with db.transaction() as tx:
        await tx.execute("UPDATE jobs SET state = ?, provider_task_id = 't1' WHERE id = ?", (JobState.SUBMITTED, first))
    core = build_core(db, clock)
    # Alice already has a job rendering, so Bob's first job goes before Alice's second.
    assert [prompts[job.id] for job in await core.job_repo.waiting()] == ["b1", "a2"]
    assert await core.job_repo.in_flight() == 1
