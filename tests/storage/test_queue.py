"""The provider queue's order: one job per member in turn, jobs at the provider counting as turns."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.models import JobState
from bot.storage.db import Database
from bot.storage.jobs import JobRepository, NewJob
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


async def _order_for(members: list[int]) -> list[tuple[int, int]]:
    """Accept one job per entry (member ids in order) on a fresh database; the queue as (member, id)."""
    db = await Database.open(":memory:")
    try:
        repo = JobRepository(db)
        clock = ManualClock()
        async with db.transaction() as tx:
            for index, member in enumerate(members):
                await repo.insert_new_in(
                    tx,
                    NewJob(
                        guild_id=1,
                        channel_id=2,
                        member_id=member,
                        spec=spec(f"job {index}"),
                        price=80,
                        provider="sandbox",
                        idempotency_key=f"k{index}",
                        accepted_at=clock(),
                        next_check_at=clock(),
                    ),
                )
        return [(job.member_id, job.id) for job in await repo.waiting()]
    finally:
        await db.close()


@pytest.mark.sqlite_only  # a property of the queue's SQL, on a fresh in-memory file per example
@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=14))
def test_queue_order_is_round_robin(members: list[int]) -> None:
    order = asyncio.run(_order_for(members))
    assert sorted(job_id for _, job_id in order) == list(range(1, len(members) + 1))
    seen: dict[int, int] = {}
    turns = []
    for member, job_id in order:
        seen[member] = seen.get(member, 0) + 1
        turns.append((seen[member], job_id))
    # Everyone's k-th job before anyone's (k+1)-th, ties by acceptance, and each member's own jobs in order.
    assert turns == sorted(turns)
