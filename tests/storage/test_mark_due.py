"""A completion callback makes the job due now, for whichever process works on it."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.models import JobState
from tests.support import Core, ManualClock, request


async def test_a_rendering_job_becomes_due_now_and_other_jobs_do_not_move(core: Core, clock: ManualClock) -> None:
    rendering = (await core.jobs.accept(request(1))).job
    queued = (await core.jobs.accept(request(2))).job
    later = clock() + timedelta(minutes=3)
    async with core.db.transaction() as tx:
        await core.job_repo.transition(
            tx, rendering.id, [JobState.ACCEPTED], JobState.RENDERING, provider_task_id="t-1", next_check_at=later
        )
        await core.job_repo.update_in(tx, queued.id, next_check_at=later)
    clock.advance(10)

    assert await core.job_repo.mark_due(rendering.id, clock())
    assert not await core.job_repo.mark_due(queued.id, clock())  # not at the provider: nothing to check

    after = await core.job_repo.get(rendering.id)
    assert after is not None and after.next_check_at == clock()
    untouched = await core.job_repo.get(queued.id)
    assert untouched is not None and untouched.next_check_at == later
    # Already due earlier: a callback never postpones a check.
    assert not await core.job_repo.mark_due(rendering.id, clock() + timedelta(seconds=30))
