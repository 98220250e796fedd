"""Autocomplete lists: jobs whose number starts with what was typed, newest first, on both backends."""

from __future__ import annotations

from bot.domain.models import JobState
from bot.services.lookup import JobLookup
from bot.storage.db import Database
from tests.support import GUILD, ManualClock, build_core, request

ALICE, BOB = 1, 2


async def test_choices_match_the_typed_start_of_the_job_number(db: Database, clock: ManualClock) -> None:
    core = build_core(db, clock, allowance=10_000)
    ids = [(await core.jobs.accept(request(ALICE))).job.id for _ in range(12)]
    bob = (await core.jobs.accept(request(BOB))).job.id
    lookup = JobLookup(core.db)
    starting_with_1 = sorted((i for i in ids if str(i).startswith("1")), reverse=True)
    assert [c.job_id for c in await lookup.cancellable(GUILD, ALICE, "#1 ")] == starting_with_1
    assert [c.job_id for c in await lookup.cancellable(GUILD, ALICE, "")] == sorted(ids, reverse=True)
    assert await lookup.member_job_ids(GUILD, ALICE, 3) == sorted(ids, reverse=True)[:3]
    assert [c.job_id for c in await lookup.cancellable(GUILD, BOB, "")] == [bob]

    job = await core.job_repo.get(ids[0])
    assert job is not None
    async with core.db.transaction() as tx:
        assert await core.job_repo.transition(tx, job.id, [JobState.ACCEPTED], JobState.DELIVERED)
        await core.credits.settle_in(tx, job, core.clock())
    [choice] = await lookup.refundable(GUILD, "")
    assert (choice.job_id, choice.member_id, choice.state, choice.price) == (job.id, ALICE, "delivered", job.price)
    async with core.db.transaction() as tx:
        await core.credits.refund_in(tx, job, actor_id=99, reason=None, at=core.clock())
    assert await lookup.refundable(GUILD, "") == []
