"""A tick's work follows the jobs that are due, not every job in flight (no timing: the SQL it runs)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.models import JobState
from tests.services.rig import open_rig

# It reads SQLite's statement trace and query plans.
pytestmark = pytest.mark.sqlite_only


async def idle_tick_statements(tmp_path: Path, in_flight: int) -> list[str]:
    """The SQL of one tick with ``in_flight`` jobs rendering, none of them due and none waiting."""
    async with open_rig(tmp_path / str(in_flight)) as rig:
        later = rig.clock() + timedelta(hours=1)
        for index in range(in_flight):
            job = await rig.accept(member_id=1 + index % 50)
            async with rig.db.transaction() as tx:
                await rig.storage.job_repo.transition(
                    tx,
                    job.id,
                    [JobState.ACCEPTED],
                    JobState.RENDERING,
                    provider_task_id=f"t{index}",
                    next_check_at=later,
                )
        statements: list[str] = []
        conn = rig.db._conn
        await conn.set_trace_callback(statements.append)
        await rig.services.runner.tick()
        await conn.set_trace_callback(None)
        plans = []
        for statement in statements:
            if statement.lstrip().upper().startswith("SELECT"):
                rows = await rig.db.fetchall("EXPLAIN QUERY PLAN " + statement)
                plans.extend(row["detail"] for row in rows)
        # Every read goes through an index (a partial one: the queue probe walks only waiting jobs);
        # no statement walks the jobs table itself.
        assert not [plan for plan in plans if plan.startswith("SCAN jobs") and "INDEX" not in plan], plans
        return [statement.split(" WHERE ")[0] for statement in statements]


async def test_an_idle_tick_does_the_same_work_for_10_or_300_jobs_in_flight(tmp_path: Path) -> None:
    few = await idle_tick_statements(tmp_path, 10)
    many = await idle_tick_statements(tmp_path, 300)
    assert few == many
    assert len(few) <= 3  # the due scan and the queue probe
