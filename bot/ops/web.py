"""The bot's small HTTP server: completion callbacks, ``/healthz`` and ``/metrics``.

It runs inside the bot's event loop, started in ``setup_hook`` and stopped in ``close``. It can
never take the bot down: each request is its own task, every handler error becomes a 500 and a
log line, and a server that cannot bind only costs callbacks (polling goes on) and the endpoints.

Where its work runs — a finding from the simulated Discord used in tests (SimCord 3.2):
SimCord decides what is "bot-owned work" by a context variable that is set while the bot runs
(``setup_hook`` included) and copied into every task and callback created from there. Its
``settle()`` then waits for every bot-owned task to finish or park on a wait it recognises.
A server started from ``setup_hook`` inherits that mark: the listening socket's accept callback
captures the context, so every connection handler task would be bot-owned, and a keep-alive
connection waiting for its next request is an "unknown wait" that makes ``settle()`` time out.
``env.external_wait`` cannot help (it is per task, and these tasks are aiohttp's). So:
  - the server is started from an empty ``contextvars.Context()``: the accept loop and connection
    handlers belong to no one, like any outside client, and their timers use real time;
  - each request's actual work (a database read, a job check, a delivery) is started as a task in
    the context captured when the server started, i.e. as the bot's own work, so under SimCord
    it follows the virtual clock and ``settle()`` waits for it, exactly like the job loop's work.
Under a real Discord connection neither context carries anything, and both are plain tasks.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from bot.config import WebConfig
from bot.ops.callbacks import APIMALL_PATH, WAN26AI_PATH, Answer, CallbackService
from bot.ops.health import HealthChecker
from bot.ops.metrics import CONTENT_TYPE, BotMetrics

log = logging.getLogger(__name__)

T = TypeVar("T")

_SHUTDOWN_SECONDS = 2.0
_DRAIN_SECONDS = 10.0
_NO_STORE = {"Cache-Control": "no-store"}


def _isolated(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """A task that carries none of the caller's context variables (see the module docstring)."""
    loop = asyncio.get_running_loop()
    return contextvars.Context().run(loop.create_task, coro)


class OpsServer:
    def __init__(
        self,
        config: WebConfig,
        *,
        health: HealthChecker,
        metrics: BotMetrics,
        callbacks: CallbackService | None,
    ) -> None:
        self.config = config
        self.health = health
        self.metrics = metrics
        self.callbacks = callbacks
        self._runner: web.AppRunner | None = None
        self._home: contextvars.Context | None = None
        self.port: int | None = None

    @property
    def local_url(self) -> str:
        """``http://host:port`` of the bound socket (what a same-network provider or a test can reach)."""
        if self.port is None:
            raise RuntimeError("the server is not listening")
        host = self.config.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and listen. Raises OSError when the address cannot be bound."""
        self._home = contextvars.copy_context()
        await _isolated(self._start())

    async def _start(self) -> None:
        app = web.Application(client_max_size=self.config.max_body_kb * 1024, middlewares=[self._guard])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_post(WAN26AI_PATH + "{token}", self._wan26ai)
        app.router.add_post(APIMALL_PATH, self._apimall)
        # access_log off: a callback URL's last part is a secret, and aiohttp would log the path.
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=_SHUTDOWN_SECONDS)
        await runner.setup()
        try:
            sock = _bind(self.config.host, self.config.port)
            await web.SockSite(runner, sock).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, self.port = runner, sock.getsockname()[1]

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await _isolated(runner.cleanup())
        if self.callbacks is not None:
            await self.callbacks.drain(_DRAIN_SECONDS)

    # --- plumbing ------------------------------------------------------------------------------

    async def _as_bot(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` as the bot's own work and wait for it.

        Shielded: a client that hangs up must not cancel a job check halfway through.
        """
        home = self._home if self._home is not None else contextvars.copy_context()
        task: asyncio.Task[T] = home.copy().run(asyncio.get_running_loop().create_task, coro)
        return await asyncio.shield(task)

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise  # 404, 405, 413: aiohttp's own answers
        except asyncio.CancelledError:
            raise
        except Exception:
            # The route's pattern, not the path: a callback's path contains the job's secret token.
            resource = request.match_info.route.resource
            log.exception("web: unexpected error in %s %s", request.method, resource.canonical if resource else "?")
            return web.json_response({"error": "internal error"}, status=500)

    # --- handlers ------------------------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        health = await self._as_bot(self.health.check())
        return web.json_response(health.as_json(), status=200 if health.ok else 503, headers=_NO_STORE)

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        body = await self._as_bot(self.metrics.render())
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE, **_NO_STORE})

    async def _wan26ai(self, request: web.Request) -> web.StreamResponse:
        await request.read()  # enforces the size cap; the content itself is never trusted or used
        if self.callbacks is None:
            return _answer_json(404, "not found")
        answer = await self._as_bot(self.callbacks.wan26ai(request.match_info["token"]))
        return _answer(answer)

    async def _apimall(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if self.callbacks is None:
            return _answer_json(404, "not found")
        answer = await self._as_bot(self.callbacks.apimall(body, request.headers))
        return _answer(answer)


def _answer(answer: Answer) -> web.Response:
    return _answer_json(answer.status, answer.outcome.value)


def _answer_json(status: int, outcome: str) -> web.Response:
    # Nothing about the job goes back: whoever calls learns only whether the hint was taken.
    return web.json_response({"outcome": outcome}, status=status, headers=_NO_STORE)


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port (port 0: any free port)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock
