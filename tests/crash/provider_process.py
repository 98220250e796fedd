"""The fake provider as its own process, so it outlives every kill of the bot.

    python -m tests.crash.provider_process --kind apimall --dir D --started WALL --speed S

It serves the loopback fake of ``--kind`` on a free port (written to ``provider.port``), with
render times drawn per task, some renders failing, some requests failing, and creates that
take a while to answer (so kills often land while a create is on the wire). ``GET
/_harness/state`` tells the harness every task it made and every create it was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.crash.common import Layout, VirtualClock
from tests.fakes import FakeProviderServer, FakeTask, Handler, Phase, RouteHandler
from tests.fakes.apimall_server import FakeApimall
from tests.fakes.wan26ai_server import FakeWan26ai

API_KEY = "sk-crash-0123456789abcdef"


class Chaos:
    """Per-task render time and outcome, and random faults, for either fake."""

    def __init__(
        self,
        rng: random.Random,
        *,
        render: tuple[float, float],
        fail_rate: float,
        fault_rate: float,
        create_delay: float,
    ) -> None:
        self.rng = rng
        self.render = render
        self.fail_rate = fail_rate
        self.fault_rate = fault_rate
        self.create_delay = create_delay
        self.doomed: set[str] = set()

    def new_task(self, server: FakeProviderServer, task: FakeTask) -> None:
        task.render_seconds = self.rng.uniform(*self.render)
        if self.rng.random() < self.fail_rate:
            self.doomed.add(task.task_id)

    def phase(self, task: FakeTask, computed: Phase) -> Phase:
        if computed == "succeeded" and task.outcome is None and task.task_id in self.doomed:
            task.error_message = "GPU node lost"  # what the status answer reports for a failed render
            return "failed"
        return computed

    def before_request(self, server: FakeProviderServer, endpoint: str) -> None:
        """Queue a fault for the request about to be handled (faults are consumed in order)."""
        if endpoint == "files":
            return
        roll = self.rng.random()
        if endpoint == "generate":
            # Creates are slow: a kill often lands after the task exists but before the answer.
            delay = self.rng.uniform(0.0, self.create_delay)
            if roll < self.fault_rate:
                server.inject("generate", drop=True, delay=delay)  # made the task, lost the answer
            elif roll < 2 * self.fault_rate:
                server.inject("generate", status=self.rng.choice([429, 500, 503]), retry_after=1)
            else:
                server.inject("generate", delay=delay)
        elif roll < self.fault_rate:
            server.inject("status", status=self.rng.choice([429, 500, 503]))


def _chaotic(base: type[FakeProviderServer]) -> type[FakeProviderServer]:
    class Chaotic(base):  # type: ignore[valid-type, misc]
        chaos: Chaos

        def _new_task(self, prefix: str, body: dict[str, Any], **options: Any) -> FakeTask:
            task = super()._new_task(prefix, body, **options)
            self.chaos.new_task(self, task)
            return task

        def phase(self, task: FakeTask) -> Phase:
            return self.chaos.phase(task, super().phase(task))

        def _wrap(self, endpoint: Any, handler: Handler, **options: Any) -> RouteHandler:
            inner = super()._wrap(endpoint, handler, **options)

            async def chaotic(request: web.Request) -> web.StreamResponse:
                self.chaos.before_request(self, endpoint)
                return await inner(request)

            return chaotic

        def _add_routes(self, app: web.Application) -> None:
            super()._add_routes(app)
            app.router.add_get("/_harness/state", self._state)

        async def _state(self, request: web.Request) -> web.Response:
            tasks = [
                {
                    "task_id": task.task_id,
                    "idempotency_key": task.idempotency_key,
                    "prompt": task.body.get("prompt"),
                    "phase": self.phase(task),
                    "created_at": task.created_at,
                    "render_seconds": task.render_seconds,
                }
                for task in self.tasks.values()
            ]
            creates = [
                {"idempotency_key": r.idempotency_key, "prompt": (r.json or {}).get("prompt")}
                for r in self.requests_to("generate")
                if isinstance(r.json, dict)
            ]
            return web.json_response({"tasks": tasks, "creates": creates})

    Chaotic.__name__ = f"Chaotic{base.__name__}"
    return Chaotic


async def serve(args: argparse.Namespace) -> None:
    layout = Layout(args.dir)
    clock = VirtualClock(args.started, args.speed)
    kind = {"apimall": FakeApimall, "wan26ai": FakeWan26ai}[args.kind]
    server = _chaotic(kind)(api_key=API_KEY, clock=clock, file_size=48 * 1024)
    server.chaos = Chaos(
        random.Random(args.seed),
        render=(args.render_min, args.render_max),
        fail_rate=args.fail_rate,
        fault_rate=args.fault_rate,
        create_delay=args.create_delay,
    )
    await server.start()
    temporary = layout.provider_port.with_suffix(".tmp")
    temporary.write_text(str(server.base_url.rsplit(":", 1)[1]))
    temporary.replace(layout.provider_port)  # the harness never reads a half-written port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=("apimall", "wan26ai"), required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--started", type=float, required=True)
    parser.add_argument("--speed", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render-min", type=float, default=20)
    parser.add_argument("--render-max", type=float, default=90)
    parser.add_argument("--fail-rate", type=float, default=0.1)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--create-delay", type=float, default=0.25, help="creates answer after up to this (real s)")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
