"""The runner against a provider failing 30% of requests, real timeouts included: every job
ends delivered or released, its member is told, nothing is charged twice, no tick raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.domain.models import JobState
from tests.services.rig import open_rig, settled

FAULTS: list[dict[str, Any]] = [
    {"status": 429, "retry_after": 7},
    {"status": 500},
    {"status": 503},
    {"delay": 1.0},  # longer than request_timeout_seconds: a real client-side timeout
    {"malformed": True},
    {"drop": True},
]


@pytest.mark.parametrize("kind", ["apimall", "wan26ai"])
async def test_thirty_percent_failures_with_timeouts(tmp_path: Path, kind: str) -> None:
    async with open_rig(tmp_path, kind, request_timeout_seconds=0.2) as rig:
        chaos = rig.server.fail_randomly(0.3, FAULTS, seed=11)
        jobs = [await rig.accept(member_id=1 + index % 5, prompt=f"a red fox #{index}") for index in range(15)]
        runner = rig.services.runner
        for _ in range(60):
            ticks = runner.stats.ticks
            await rig.run(30)
            assert runner.stats.ticks == ticks + 15  # every tick ran and returned
            if all(settled(job) for job in await rig.jobs()):
                break
        ended = await rig.jobs()
        assert len(ended) == len(jobs)
        for job in ended:
            assert job.state.is_terminal, job
            if job.state is JobState.DELIVERED:
                assert rig.events.delivered[job.id] == 1 and not rig.events.told[job.id]
            else:
                assert rig.events.told[job.id] == 1 and not rig.events.delivered[job.id]
        assert await rig.money_problems() == []
        assert set(chaos.picked) == set(range(len(FAULTS)))
        assert runner.stats.step_errors == 0
        if kind == "apimall":  # resent creates carry the same key: one task per job
            keys = [task.idempotency_key for task in rig.server.tasks.values()]
            assert len(keys) == len(set(keys))
