"""Loopback fakes of the provider APIs: real aiohttp servers on 127.0.0.1 for tests and benchmarks.

Shared machinery lives here; ``wan26ai_server`` and ``apimall_server`` speak each document.

    clock = ManualClock()
    async with FakeApimall(api_key="k", clock=clock, render_seconds=30) as server:
        ...                                   # point an adapter at server.base_url
        server.inject("generate", status=429, retry_after=3)
        clock.advance(30)                     # the task is now completed
        server.requests_to("generate")        # what the adapter actually sent

Faults are queued per endpoint (``generate``, ``status``, ``files``) and each is used by one
request that passed the key check. ``fail_randomly(rate, faults)`` adds a fault drawn at
random to that share of requests with no queued fault, for chaos tests. A task's state
follows ``clock() - created_at`` against its ``render_seconds`` unless ``finish``/``fail``/
``set_raw_status`` decided it by hand.
"""

from __future__ import annotations

import abc
import asyncio
import json
import random
import socket
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from aiohttp import web
from multidict import CIMultiDict

Endpoint = Literal["generate", "status", "files"]
Phase = Literal["queued", "running", "succeeded", "failed"]
Handler = Callable[[web.Request, "RecordedRequest"], Awaitable[web.StreamResponse]]
RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ENDPOINTS: tuple[Endpoint, ...] = ("generate", "status", "files")
# The wan26ai price table; the apimall fake charges the same (its document gives no table).
PRICES: dict[tuple[str, str], int] = {
    ("720p", "5"): 80,
    ("720p", "10"): 150,
    ("720p", "15"): 220,
    ("1080p", "5"): 115,
    ("1080p", "10"): 220,
    ("1080p", "15"): 325,
}
# An ISO BMFF ``ftyp`` box so generated payloads start like a real MP4; the rest is zeros.
MP4_HEADER = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
CHUNK_BYTES = 64 * 1024


class ManualClock:
    """A clock tests move by hand: ``clock.advance(30)``."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class RecordedRequest:
    endpoint: Endpoint
    method: str
    path: str  # decoded
    raw_path: str  # as sent, percent-encoding and query included
    query: dict[str, str]
    headers: CIMultiDict[str]
    body: bytes
    json: Any  # the parsed body, or None when it was not JSON

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour. Response-shaping fields replace normal handling (no task is made)."""

    status: int | None = None  # answer with this HTTP status and the provider's error envelope
    error_code: str | int | None = None  # error envelope; HTTP 200 unless ``status`` is given
    error_message: str = "injected fault"
    json: Any = None  # answer with exactly this JSON (HTTP ``status`` or 200)
    body: str | bytes | None = None  # answer with this raw text (HTTP ``status`` or 200)
    malformed: bool = False  # answer with truncated JSON labelled application/json
    retry_after: float | str | None = None  # add a Retry-After header to whatever is answered
    delay: float = 0.0  # real seconds to wait before answering (after the request was processed)
    # Process the request, then close the connection without answering. aiohttp's client resends
    # a GET once by itself after a drop, so a status check needs ``times=2`` to see the failure.
    drop: bool = False

    @property
    def replaces_answer(self) -> bool:
        return (
            self.status is not None
            or self.error_code is not None
            or self.json is not None
            or self.body is not None
            or self.malformed
        )


@dataclass
class RandomFaults:
    """A random share of requests to some endpoints fail, with each of ``faults`` in turn.

    Which requests fail is random; the faults rotate, so even a short run sees every kind.
    """

    rate: float
    faults: tuple[Fault, ...]
    endpoints: tuple[Endpoint, ...] = ("generate", "status")
    rng: random.Random = field(default_factory=random.Random)
    picked: Counter[int] = field(default_factory=Counter)  # how often each of ``faults`` was used

    @property
    def injected(self) -> int:
        return sum(self.picked.values())

    def pick(self, endpoint: Endpoint) -> Fault | None:
        if endpoint not in self.endpoints or self.rng.random() >= self.rate:
            return None
        index = self.injected % len(self.faults)
        self.picked[index] += 1
        return self.faults[index]


@dataclass
class FakeTask:
    task_id: str
    body: dict[str, Any]
    created_at: float
    render_seconds: float
    credits: int
    idempotency_key: str | None = None
    callback_url: str | None = None
    outcome: Literal["succeeded", "failed"] | None = None  # decided by hand via finish()/fail()
    error_message: str | None = None
    raw_status: str | None = None  # a status word forced by set_raw_status()
    callback_sent: bool = False
    created_wall: float = field(default_factory=time.time)


class FakeProviderServer(abc.ABC):
    """Common machinery: lifecycle, Bearer check, recording, faults, tasks, result files."""

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        clock: Callable[[], float] = time.monotonic,
        render_seconds: float = 30.0,
        queue_seconds: float = 0.0,
        credits: int | None = None,
        file_bytes: bytes | None = None,
        file_size: int = 64 * 1024,
    ) -> None:
        self.api_key = api_key
        self.clock = clock
        self.render_seconds = render_seconds  # default for new tasks
        self.queue_seconds = queue_seconds  # time a new task reports as queued before running
        self.credits = credits  # None: unlimited; otherwise each create deducts its price
        self.file_bytes = file_bytes
        self.file_size = file_size
        self.requests: list[RecordedRequest] = []
        self.tasks: dict[str, FakeTask] = {}
        self._faults: dict[Endpoint, deque[Fault]] = {endpoint: deque() for endpoint in ENDPOINTS}
        self.random_faults: RandomFaults | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._counter = 0

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application()
        self._add_routes(app)
        app.router.add_get("/files/{name}", self._wrap("files", self._serve_file, auth=False, streams=True))
        # handler_cancellation: a client that gave up stops its (delayed) handler, so stop() is quick.
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        self._runner, self._port = runner, sock.getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("the fake server is not started")
        return f"http://127.0.0.1:{self._port}"

    # --- controls ----------------------------------------------------------------------------

    def inject(
        self,
        endpoint: Endpoint,
        *,
        times: int = 1,
        status: int | None = None,
        error_code: str | int | None = None,
        error_message: str = "injected fault",
        json: Any = None,
        body: str | bytes | None = None,
        malformed: bool = False,
        retry_after: float | str | None = None,
        delay: float = 0.0,
        drop: bool = False,
    ) -> None:
        """Queue a fault (see ``Fault``) for the next ``times`` authorised requests to ``endpoint``."""
        fault = Fault(
            status=status,
            error_code=error_code,
            error_message=error_message,
            json=json,
            body=body,
            malformed=malformed,
            retry_after=retry_after,
            delay=delay,
            drop=drop,
        )
        self._faults[endpoint].extend([fault] * times)

    def fail_randomly(
        self,
        rate: float,
        faults: list[dict[str, Any]],
        *,
        endpoints: tuple[Endpoint, ...] = ("generate", "status"),
        seed: int = 0,
    ) -> RandomFaults:
        """From now on, ``rate`` of the requests to ``endpoints`` fail with ``faults`` (``inject`` keywords) in turn."""
        chosen = tuple(Fault(**fault) for fault in faults)
        self.random_faults = RandomFaults(rate, chosen, endpoints, random.Random(seed))
        return self.random_faults

    def clear_faults(self) -> None:
        for queue in self._faults.values():
            queue.clear()
        self.random_faults = None

    def pending_faults(self, endpoint: Endpoint) -> int:
        return len(self._faults[endpoint])

    def requests_to(self, endpoint: Endpoint) -> list[RecordedRequest]:
        return [request for request in self.requests if request.endpoint == endpoint]

    def finish(self, task_id: str) -> None:
        task = self.tasks[task_id]
        task.outcome, task.error_message = "succeeded", None
        self._on_finished(task)

    def fail(self, task_id: str, message: str = "render failed") -> None:
        task = self.tasks[task_id]
        task.outcome, task.error_message = "failed", message
        if self.credits is not None:  # both documents: failed renders are refunded
            self.credits += task.credits
        self._on_finished(task)

    def set_raw_status(self, task_id: str, word: str | None) -> None:
        """Force the status word reported for a task (None: back to the computed one)."""
        self.tasks[task_id].raw_status = word

    def set_render_seconds(self, task_id: str, seconds: float) -> None:
        self.tasks[task_id].render_seconds = seconds

    def phase(self, task: FakeTask) -> Phase:
        if task.outcome is not None:
            return task.outcome
        elapsed = self.clock() - task.created_at
        if elapsed >= task.render_seconds:
            return "succeeded"
        return "running" if elapsed >= self.queue_seconds else "queued"

    def unfinished(self) -> int:
        return sum(1 for task in self.tasks.values() if self.phase(task) in ("queued", "running"))

    def file_url(self, task_id: str) -> str:
        return f"{self.base_url}/files/{task_id}.mp4"

    # --- for subclasses ----------------------------------------------------------------------

    @abc.abstractmethod
    def _add_routes(self, app: web.Application) -> None: ...

    @abc.abstractmethod
    def _error_body(self, status: int, code: str | int | None, message: str) -> dict[str, Any]:
        """The provider's error envelope; ``code`` None means the provider's usual code for ``status``."""

    def _error(self, status: int, code: str | int | None, message: str) -> web.Response:
        """An error answer from normal handling (not a fault)."""
        return self._json(self._error_body(status, code, message), status)

    def _on_finished(self, task: FakeTask) -> None:  # noqa: B027 - an optional hook, empty by default
        """Hook for work when a task is finished by hand (wan26ai callbacks)."""

    def _new_task(
        self, prefix: str, body: dict[str, Any], *, credits: int, idempotency_key: str | None = None
    ) -> FakeTask:
        self._counter += 1
        task = FakeTask(
            task_id=f"{prefix}{self._counter:06d}",
            body=body,
            created_at=self.clock(),
            render_seconds=self.render_seconds,
            credits=credits,
            idempotency_key=idempotency_key,
        )
        self.tasks[task.task_id] = task
        if self.credits is not None:
            self.credits -= credits
        return task

    def _json(self, data: Any, status: int = 200) -> web.Response:
        return web.json_response(data, status=status)

    def _wrap(self, endpoint: Endpoint, handler: Handler, *, auth: bool = True, streams: bool = False) -> RouteHandler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            raw = await request.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            record = RecordedRequest(
                endpoint=endpoint,
                method=request.method,
                path=request.path,
                raw_path=request.raw_path,
                query=dict(request.query),
                headers=CIMultiDict(request.headers),
                body=raw,
                json=parsed,
            )
            self.requests.append(record)
            if auth and request.headers.get("Authorization") != f"Bearer {self.api_key}":
                return self._error(401, None, "Missing or invalid API key")
            fault = self._faults[endpoint].popleft() if self._faults[endpoint] else None
            if fault is None and self.random_faults is not None:
                fault = self.random_faults.pick(endpoint)
            if fault is None:
                return await handler(request, record)
            if streams and (fault.delay or fault.drop):  # nothing to process first: wait or drop up front
                await asyncio.sleep(fault.delay)
                if fault.drop:
                    return self._drop(request)
            response = self._fault_answer(fault) if fault.replaces_answer else await handler(request, record)
            if fault.retry_after is not None and not response.prepared:
                response.headers["Retry-After"] = str(fault.retry_after)
            if not streams:
                await asyncio.sleep(fault.delay)
                if fault.drop:
                    return self._drop(request)
            return response

        return wrapped

    def _fault_answer(self, fault: Fault) -> web.Response:
        status = fault.status if fault.status is not None else 200
        if fault.malformed:
            return web.Response(
                status=status, body=b'{"code": 200, "data": {"task_id": ', content_type="application/json"
            )
        if fault.body is not None:
            text = fault.body.decode() if isinstance(fault.body, bytes) else fault.body
            return web.Response(status=status, text=text, content_type="text/plain")
        if fault.json is not None:
            return self._json(fault.json, status)
        return self._json(self._error_body(status, fault.error_code, fault.error_message), status)

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never reaches the client

    async def _serve_file(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        task_id = request.match_info["name"].removesuffix(".mp4")
        if task_id not in self.tasks:
            return web.Response(status=404, text="no such file")
        size = len(self.file_bytes) if self.file_bytes is not None else self.file_size
        response = web.StreamResponse(headers={"Content-Type": "video/mp4", "Content-Length": str(size)})
        await response.prepare(request)
        if request.method != "HEAD":
            for chunk in self._payload_chunks(size):
                await response.write(chunk)
        await response.write_eof()
        return response

    def _payload_chunks(self, size: int) -> Iterator[bytes]:
        """The configured bytes, or ``size`` generated bytes, one chunk at a time."""
        if self.file_bytes is not None:
            for start in range(0, size, CHUNK_BYTES):
                yield self.file_bytes[start : start + CHUNK_BYTES]
            return
        for start in range(0, size, CHUNK_BYTES):
            chunk = bytearray(min(CHUNK_BYTES, size - start))
            if start == 0:
                header = MP4_HEADER[: len(chunk)]
                chunk[: len(header)] = header
            yield bytes(chunk)


def task_price(body: dict[str, Any]) -> int:
    return PRICES.get((str(body.get("resolution", "1080p")), str(body.get("duration", "5"))), 0)
