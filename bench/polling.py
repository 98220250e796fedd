"""Status requests per delivered job, and the delay the schedule adds, for renders of 30–300 s.

The real bot on SimCord against the loopback apimall fake (no callbacks), both on SimCord's
virtual clock, so hours of renders take seconds. Members start one job every ``GAP``
virtual seconds; job *i* renders for the *i*-th of ``JOBS`` render times spread evenly over
30–300 s (shuffled), all of one shape (text-to-video, 5 s, 720p), so from the fourth
render on the bot predicts with the median of the recent ones, as it would in real use.

- requests: status requests the fake received for the job's task;
- added delay: delivered_at (the bot's clock when the post was recorded) minus the moment
  the fake started answering "completed" (task created + render time), in virtual seconds.
  It includes the loop's tick granularity (``loop.tick_seconds``).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.common import API_KEY, Row, bench_world, emit, percentile
from bot.domain import schedule
from bot.domain.clock import to_ts
from tests.fakes.apimall_server import FakeApimall

JOBS = 60
GAP = 20.0  # virtual seconds between two members' /video
RENDER_RANGE = (30.0, 300.0)


def render_times(count: int, seed: int = 7) -> list[float]:
    low, high = RENDER_RANGE
    times = [low + (high - low) * index / (count - 1) for index in range(count)]
    random.Random(seed).shuffle(times)
    return times


async def measure(database: Path, *, jobs: int, config: dict[str, Any] | None = None) -> dict[str, Any]:
    holder: dict[str, Any] = {}

    def virtual_now() -> float:
        env = holder.get("env")
        return env.now().timestamp() if env is not None else 0.0

    server = FakeApimall(api_key=API_KEY, clock=virtual_now, file_size=64 * 1024)
    await server.start()
    provider = {"kind": "apimall", "base_url": server.base_url, "api_key": API_KEY, **(config or {})}
    renders = render_times(jobs)
    try:
        # Polling is measured, not the guardrails: no cooldown, running-job limit or provider queue.
        limits = {"cooldown_seconds": 0, "max_running_per_member": 100, "max_in_flight": 1000}
        credits = {"default_allowance": 100_000, "confirm_above": 100_000}
        async with bench_world(database, members=10, provider=provider, credits=credits, limits=limits) as w:
            holder["env"] = w.env
            for index, seconds in enumerate(renders):
                server.render_seconds = seconds  # the next task created gets this render time
                await w.members[index % len(w.members)].slash(w.channel, "video", prompt=f"a lighthouse #{index}")
                await w.env.advance_time(GAP)
            await w.env.advance_time(RENDER_RANGE[1] + 300)
            repo = w.bot.services.job_repo
            rows = await w.bot.services.db.fetchall("SELECT id FROM jobs ORDER BY id")
            finished = [await repo.get(row["id"]) for row in rows]
    finally:
        await server.stop()
    per_task: dict[str, int] = {}
    for request in server.requests_to("status"):
        task_id = request.path.rsplit("/", 1)[-1]
        per_task[task_id] = per_task.get(task_id, 0) + 1
    requests, delays = [], []
    for job in finished:
        assert job is not None
        if job.state.value != "delivered" or job.provider_task_id is None or job.delivered_at is None:
            continue
        task = server.tasks[job.provider_task_id]
        requests.append(per_task.get(task.task_id, 0))
        delays.append(to_ts(job.delivered_at) - (task.created_at + task.render_seconds))
    return {"jobs": len(finished), "requests": requests, "delays": delays, "renders": renders}


def rows_for(result: dict[str, Any], label: str) -> list[Row]:
    requests, delays = result["requests"], result["delays"]
    fixed = statistics.mean(result["renders"]) / 3
    return [
        Row(
            "polling",
            f"status requests per delivered job{label}, mean (p50 / max)",
            f"{statistics.mean(requests):.2f} ({percentile(requests, 0.5)} / {max(requests)})",
            "≤ 3 (no callbacks)",
            f"{len(requests)}/{result['jobs']} delivered, renders 30–300 s; a fixed 3 s poll ≈ {fixed:.0f}",
        ),
        Row(
            "polling",
            f"added delay, provider done → posted{label}, p50 / p90 / max",
            f"{percentile(delays, 0.5):.0f} / {percentile(delays, 0.9):.0f} / {max(delays):.0f} s",
            "",
            f"virtual time, mean {statistics.mean(delays):.0f} s; includes the 2 s loop tick",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=JOBS)
    # What-if runs: the same bench with other schedule constants (patched in this process only).
    parser.add_argument("--first-fraction", type=float, help="what-if for schedule.FIRST_CHECK_FRACTION")
    parser.add_argument("--growth", type=float, help="what-if for schedule.GROWTH")
    args, _ = parser.parse_known_args()
    label = ""
    if args.first_fraction is not None or args.growth is not None:
        first = schedule.FIRST_CHECK_FRACTION = args.first_fraction or schedule.FIRST_CHECK_FRACTION
        growth = schedule.GROWTH = args.growth or schedule.GROWTH
        label = f" [what-if: first check {first:g}×expected, gaps {growth:g}×elapsed]"
    with tempfile.TemporaryDirectory(prefix="bench-polling-", dir=Path.cwd()) as folder:
        result = asyncio.run(measure(Path(folder) / "wanbot.sqlite3", jobs=args.jobs))
    emit(rows_for(result, label))


if __name__ == "__main__":
    main()
