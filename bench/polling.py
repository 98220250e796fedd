"""Status requests per delivered job, and the delay the schedule adds, for renders of 30–300 s.

The real bot on SimCord against the loopback apimall fake (no callbacks), both on SimCord's
virtual clock, so hours of renders take seconds. Members start one job every ``GAP``
virtual seconds; job *i* renders for the *i*-th of ``JOBS`` render times spread evenly over
30–300 s (shuffled), all of one shape (text-to-video, 5 s, 720p), so from the fourth
render on the bot predicts with the median of the recent ones, as it would in real use.

- requests: status requests the fake received for the job's task;
- added delay: delivered_at (the bot's clock when the post was recorded) minus the moment
  the fake started answering "completed" (task created + render time), in virtual seconds.
  It includes the loop's tick granularity (``loop.tick_seconds``);
- p90 delay ÷ render: the 90th percentile over jobs of (added delay / that job's render time).

The frontier: the shipped ``provider.poll_patience`` and two alternatives (``--alternatives``),
each a full run, so an operator can see what the setting trades.

A second run (skip it with ``--no-callbacks-run``) measures the same spread with completion
callbacks: the wan26ai fake (``send_callbacks=True``) and the bot's web server on loopback with ``callbacks.enabled``.
The fake has no clock of its own to fire on, so the bench models the provider calling at the
very moment a render finishes: virtual time is advanced from one render's end to the next,
and at each end ``fire_callbacks()`` POSTs the finished task's status to its callback URL
(real loopback HTTP, answered by the bot's server) before time moves on. The fake would also
call back when a poll finds a finished task; with this stepping a poll never gets there first
except at the same instant. Polling stays on, since a callback is only a hint; so requests
count both the callback's status check and any scheduled polls before the render ended.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.common import API_KEY, Row, bench_world, emit, percentile
from bot.domain import schedule
from bot.domain.clock import to_ts
from bot.storage.jobs import JobRepository
from tests.fakes import FakeProviderServer, RecordedRequest
from tests.fakes.apimall_server import FakeApimall
from tests.fakes.wan26ai_server import FakeWan26ai

JOBS = 60
GAP = 20.0  # virtual seconds between two members' /video
RENDER_RANGE = (30.0, 300.0)


def render_times(count: int, seed: int = 7) -> list[float]:
    low, high = RENDER_RANGE
    times = [low + (high - low) * index / (count - 1) for index in range(count)]
    random.Random(seed).shuffle(times)
    return times


# The bot's completion-callback server on loopback (a free port), for ``--callbacks``.
CALLBACK_SECTIONS: dict[str, dict[str, Any]] = {
    "web": {"enabled": True, "host": "127.0.0.1", "port": 0},
    "callbacks": {"enabled": True},
}
EPSILON = 0.001  # virtual seconds past a render's end, so the fake surely reports it finished


async def advance(env: Any, server: FakeProviderServer, seconds: float, *, callbacks: bool) -> None:
    """Advance virtual time; with callbacks, stop at every render's end and have the provider call."""
    if not callbacks:
        await env.advance_time(seconds)
        return
    assert isinstance(server, FakeWan26ai)
    end = env.now().timestamp() + seconds
    while True:
        now = env.now().timestamp()
        ends = [
            task.created_at + task.render_seconds
            for task in server.tasks.values()
            if task.callback_url and not task.callback_sent
        ]
        upcoming = [at for at in ends if now < at <= end]
        if any(at <= now for at in ends):  # finished already: call now
            await server.drain_callbacks()
            if await server.fire_callbacks() == 0:  # float rounding: not quite finished for the fake
                await env.advance_time(EPSILON)
            await env.settle()
            continue
        if not upcoming:
            if end > now:
                await env.advance_time(end - now)
            return
        await env.advance_time(min(upcoming) - now + EPSILON)


def status_task_id(request: RecordedRequest) -> str:
    if request.query.get("task_id"):  # wan26ai: /api/status?task_id=… (or a JSON body)
        return request.query["task_id"]
    if isinstance(request.json, dict) and request.json.get("task_id"):
        return str(request.json["task_id"])
    return request.path.rsplit("/", 1)[-1]  # apimall: /…/tasks/<id>


async def measure(
    database: Path, *, jobs: int, config: dict[str, Any] | None = None, callbacks: bool = False
) -> dict[str, Any]:
    holder: dict[str, Any] = {}

    def virtual_now() -> float:
        env = holder.get("env")
        return env.now().timestamp() if env is not None else 0.0

    server: FakeProviderServer
    if callbacks:
        server = FakeWan26ai(api_key=API_KEY, clock=virtual_now, file_size=64 * 1024, send_callbacks=True)
    else:
        server = FakeApimall(api_key=API_KEY, clock=virtual_now, file_size=64 * 1024)
    checked_at: list[tuple[str, float]] = []  # (task id, virtual time) of every status request
    if callbacks:
        answer_status = server._status

        async def timed_status(request: web.Request, record: RecordedRequest) -> web.StreamResponse:
            checked_at.append((status_task_id(record), virtual_now()))
            return await answer_status(request, record)

        server._status = timed_status  # type: ignore[method-assign]
    await server.start()
    kind = "wan26ai" if callbacks else "apimall"
    provider = {"kind": kind, "base_url": server.base_url, "api_key": API_KEY, **(config or {})}
    sections = CALLBACK_SECTIONS if callbacks else {}
    renders = render_times(jobs)
    try:
        # Polling is measured, not the guardrails: no cooldown, running-job limit or provider queue.
        limits = {"cooldown_seconds": 0, "max_running_per_member": 100, "max_in_flight": 1000}
        credits = {"default_allowance": 100_000, "confirm_above": 100_000}
        async with bench_world(
            database, members=10, provider=provider, credits=credits, limits=limits, **sections
        ) as w:
            holder["env"] = w.env
            if callbacks:
                assert w.bot.ops_server is not None, "the callback server did not start"
            for index, seconds in enumerate(renders):
                server.render_seconds = seconds  # the next task created gets this render time
                await w.members[index % len(w.members)].slash(w.channel, "video", prompt=f"a lighthouse #{index}")
                await advance(w.env, server, GAP, callbacks=callbacks)
            await advance(w.env, server, RENDER_RANGE[1] + 300, callbacks=callbacks)
            repo = JobRepository(w.bot.db)
            rows = await w.bot.db.fetchall("SELECT id FROM jobs ORDER BY id")
            finished = [await repo.get(row["id"]) for row in rows]
    finally:
        await server.stop()
    per_task: dict[str, int] = {}
    for request in server.requests_to("status"):
        task_id = status_task_id(request)
        per_task[task_id] = per_task.get(task_id, 0) + 1
    answered = [a for a in getattr(server, "callbacks", []) if a.status is not None and 200 <= a.status < 300]
    requests, delays, early, ratios = [], [], [], []
    for job in finished:
        assert job is not None
        if job.state.value != "delivered" or job.provider_task_id is None or job.delivered_at is None:
            continue
        task = server.tasks[job.provider_task_id]
        requests.append(per_task.get(task.task_id, 0))
        done_at = task.created_at + task.render_seconds
        early.append(sum(1 for task_id, at in checked_at if task_id == task.task_id and at < done_at))
        delays.append(to_ts(job.delivered_at) - (task.created_at + task.render_seconds))
        ratios.append(delays[-1] / task.render_seconds)
    return {
        "jobs": len(finished),
        "requests": requests,
        "delays": delays,
        "ratios": ratios,
        "renders": renders,
        "callbacks_sent": len(getattr(server, "callbacks", [])),
        "callbacks_accepted": len(answered),
        "callback_statuses": sorted({str(a.status) for a in getattr(server, "callbacks", [])}),
        "early": early,  # with callbacks: status requests that came before the render ended
    }


def rows_for(result: dict[str, Any], label: str) -> list[Row]:
    requests, delays = result["requests"], result["delays"]
    fixed = statistics.mean(result["renders"]) / 3
    return [
        Row(
            "polling",
            f"status requests per delivered job{label}, mean (p50 / max)",
            f"{statistics.mean(requests):.2f} ({percentile(requests, 0.5)} / {max(requests)})",
            "≤ 12 (no callbacks)",
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


def callback_rows(result: dict[str, Any], label: str) -> list[Row]:
    requests, delays = result["requests"], result["delays"]
    return [
        Row(
            "polling",
            f"status requests per delivered job, with callbacks{label}, mean (p50 / max)",
            f"{statistics.mean(requests):.2f} ({percentile(requests, 0.5)} / {max(requests)})",
            "≈ 1 (with callbacks)",
            f"{len(requests)}/{result['jobs']} delivered, renders 30–300 s; wan26ai fake calls back at "
            f"each render's end ({result['callbacks_accepted']}/{result['callbacks_sent']} callbacks accepted, "
            f"answers {', '.join(result['callback_statuses'])}); of these requests, "
            f"{statistics.mean(result['early']):.2f} per job were scheduled polls before the render ended",
        ),
        Row(
            "polling",
            f"added delay, provider done → posted, with callbacks{label}, p50 / p90 / max",
            f"{percentile(delays, 0.5):.0f} / {percentile(delays, 0.9):.0f} / {max(delays):.0f} s",
            "",
            f"virtual time, mean {statistics.mean(delays):.1f} s; callback sent at the render's end",
        ),
    ]


def frontier_row(result: dict[str, Any], label: str, *, target: str = "") -> Row:
    requests, delays, ratios = result["requests"], result["delays"], result["ratios"]
    return Row(
        "polling",
        f"frontier: {label}",
        f"{statistics.mean(requests):.1f} req/job · {percentile(delays, 0.5):.0f} / {percentile(delays, 0.9):.0f} s"
        f" · {100 * percentile(ratios, 0.9):.1f} %",
        target,
        f"requests per job · added delay p50 / p90 · p90 delay ÷ render; {len(requests)}/{result['jobs']} delivered",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--no-callbacks-run", action="store_true", help="skip the with-callbacks measurement")
    parser.add_argument("--patience", type=float, default=schedule.DEFAULT_PATIENCE, help="provider.poll_patience")
    parser.add_argument(
        "--alternatives", type=float, nargs="*", default=[0.04, 0.15], help="other poll_patience values to compare"
    )
    args, _ = parser.parse_known_args()
    shipped = args.patience == schedule.DEFAULT_PATIENCE
    label = "" if shipped else f" [poll_patience {args.patience:g}]"
    with tempfile.TemporaryDirectory(prefix="bench-polling-", dir=Path.cwd()) as folder:
        config = {"poll_patience": args.patience}
        result = asyncio.run(measure(Path(folder) / "wanbot.sqlite3", jobs=args.jobs, config=config))
        rows = rows_for(result, label)
        rows.append(
            frontier_row(
                result,
                f"poll_patience {args.patience:g}{' (shipped)' if shipped else ''}",
                target="≤ 12 req/job, p90 ≤ 10 %",
            )
        )
        for index, patience in enumerate(args.alternatives):
            alternative = asyncio.run(
                measure(Path(folder) / f"alt{index}.sqlite3", jobs=args.jobs, config={"poll_patience": patience})
            )
            rows.append(frontier_row(alternative, f"poll_patience {patience:g}"))
        if not args.no_callbacks_run:
            with_callbacks = asyncio.run(measure(Path(folder) / "callbacks.sqlite3", jobs=args.jobs, callbacks=True))
            rows += callback_rows(with_callbacks, label)
    emit(rows)


if __name__ == "__main__":
    main()
