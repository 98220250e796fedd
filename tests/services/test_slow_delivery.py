"""One slow thing never stalls the others: while one job's delivery hangs (a slow download up to
its timeout, a channel in slowmode, a rate-limited route), the loop keeps checking and delivering
the other jobs on schedule, and the slow one finishes later, posted once.

The blocked delivery waits on an event only the test sets; ``wait_for`` bounds below only keep a
regression from hanging the suite (they are not speed assertions)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bot.domain.models import Job, JobState
from bot.services.events import Delivered
from tests.services.rig import RecordingEvents, Rig, open_rig

HANG_GUARD_SECONDS = 30.0


@dataclass
class GatedEvents(RecordingEvents):
    """Posting a job listed in ``gates`` waits until its gate opens, as a hung upload would."""

    gates: dict[int, asyncio.Event] = field(default_factory=dict)
    hanging: defaultdict[int, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))
    posted: defaultdict[int, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))

    async def deliver(self, job: Job) -> Delivered:
        gate = self.gates.get(job.id)
        if gate is not None:
            self.hanging[job.id].set()
            await gate.wait()
        delivered = await super().deliver(job)
        self.posted[job.id].set()
        return delivered


async def until(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), HANG_GUARD_SECONDS)


async def tick_for(rig: Rig, seconds: float, step: float = 2.0) -> None:
    """The loop: one tick every ``step`` seconds; each tick must come back for the next to run."""
    elapsed = 0.0
    while elapsed < seconds:
        rig.clock.advance(step)
        elapsed += step
        await asyncio.wait_for(rig.services.runner.tick(), HANG_GUARD_SECONDS)


async def test_a_hung_delivery_delays_only_its_own_job(tmp_path: Path) -> None:
    events = GatedEvents()
    async with open_rig(tmp_path, events=events) as rig:
        runner = rig.services.runner
        runner.settings.step_wait_seconds = 0.05  # real seconds a tick waits for a slow step
        slow = await rig.accept(member_id=1, prompt="the slow one")
        fast = await rig.accept(member_id=2, prompt="the fast one")
        events.gates[slow.id] = asyncio.Event()
        await tick_for(rig, 4)
        fast_task = next(t for t in rig.server.tasks.values() if t.body.get("prompt") == "the fast one")
        rig.server.set_render_seconds(fast_task.task_id, 120)

        await tick_for(rig, 60)  # the slow job's render is done: its delivery hangs
        await until(events.hanging[slow.id])
        checks_before = len(rig.server.requests_to("status"))
        await tick_for(rig, 150)  # ticks keep coming back; the fast job is checked and posted
        await until(events.posted[fast.id])
        assert len(rig.server.requests_to("status")) > checks_before
        assert events.delivered[slow.id] == 0
        states = {job.id: job.state for job in await rig.jobs()}
        assert states == {slow.id: JobState.DELIVERING, fast.id: JobState.DELIVERED}

        events.gates[slow.id].set()  # the slow post finally goes through
        await until(events.posted[slow.id])
        await tick_for(rig, 30)
        assert events.delivered == {slow.id: 1, fast.id: 1}  # each posted once
        assert {job.id: job.state for job in await rig.jobs()} == {
            slow.id: JobState.DELIVERED,
            fast.id: JobState.DELIVERED,
        }
        assert await rig.money_problems() == []
