"""A fake of the wan26ai.app API: ``POST /api/generate`` and ``GET``/``POST /api/status``.

Answers use the documented ``{code, message, data}`` envelope. With ``errors_in_http_200`` the
fake's own errors come back as HTTP 200 with the error code only in the body, as the real
service is suspected to do. With ``send_callbacks`` a finished task's ``callback_url`` receives
a POST of the same envelope ``/api/status`` answers with (the document does not show the
callback's shape; that is an assumption).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes import FakeProviderServer, FakeTask, RecordedRequest, task_price

MODELS = {
    "wan/2-6-text-to-video": "text-to-video",
    "wan/2-6-image-to-video": "image-to-video",
    "wan/2-6-video-to-video": "video-to-video",
}
STATUS_WORDS = {"queued": "IN_PROGRESS", "running": "IN_PROGRESS", "succeeded": "SUCCESS", "failed": "FAILED"}


@dataclass(frozen=True)
class CallbackAttempt:
    task_id: str
    url: str
    status: int | None  # the receiver's HTTP status, None when the POST failed
    error: str | None = None


class FakeWan26ai(FakeProviderServer):
    def __init__(self, *, send_callbacks: bool = False, errors_in_http_200: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.send_callbacks = send_callbacks
        self.errors_in_http_200 = errors_in_http_200
        self.callbacks: list[CallbackAttempt] = []
        self._background: set[asyncio.Task[int]] = set()

    async def stop(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await super().stop()

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/generate", self._wrap("generate", self._generate))
        status = self._wrap("status", self._status)
        app.router.add_get("/api/status", status)
        app.router.add_post("/api/status", status)

    def _error_body(self, status: int, code: str | int | None, message: str) -> dict[str, Any]:
        return {"code": status if code is None else code, "message": message, "data": None}

    def _error(self, status: int, code: str | int | None, message: str) -> web.Response:
        return self._json(self._error_body(status, code, message), 200 if self.errors_in_http_200 else status)

    async def _generate(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        body = record.json
        problem = _validate(body)
        if problem is not None:
            return self._error(400, None, problem)
        assert isinstance(body, dict)
        price = task_price(body)
        if self.credits is not None and self.credits < price:
            return self._error(402, None, "Credit balance could not cover the deduction")
        task = self._new_task("wan26_", body, credits=price)
        task.callback_url = body.get("callback_url")
        return self._json(
            {"code": 200, "message": "success", "data": {"task_id": task.task_id, "status": "IN_PROGRESS"}}
        )

    async def _status(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        task_id = request.query.get("task_id")
        if task_id is None and isinstance(record.json, dict):
            task_id = record.json.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            return self._error(400, None, "task_id is required")
        task = self.tasks.get(task_id)
        if task is None:
            return self._error(404, None, "Task not found")
        if self.send_callbacks and self._callback_due(task):
            self._schedule_callbacks()
        return self._json(self.status_envelope(task))

    def status_envelope(self, task: FakeTask) -> dict[str, Any]:
        phase = self.phase(task)
        sanitized = {key: value for key, value in task.body.items() if key != "callback_url"}
        return {
            "code": 200,
            "message": "success",
            "data": {
                "task_id": task.task_id,
                "status": task.raw_status or STATUS_WORDS[phase],
                "request": sanitized,
                "response": [self.file_url(task.task_id)] if phase == "succeeded" else None,
                "consumed_credits": 0 if phase == "failed" else task.credits,  # failed jobs are refunded
                "error_message": task.error_message if phase == "failed" else None,
                "created_at": datetime.fromtimestamp(task.created_wall, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }

    # --- callbacks ---------------------------------------------------------------------------

    async def fire_callbacks(self) -> int:
        """POST the final status to every finished task's callback_url not yet called; returns how many."""
        due = [task for task in self.tasks.values() if self._callback_due(task)]
        if not due:
            return 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            for task in due:
                task.callback_sent = True
                assert task.callback_url is not None
                try:
                    async with session.post(task.callback_url, json=self.status_envelope(task)) as response:
                        self.callbacks.append(CallbackAttempt(task.task_id, task.callback_url, response.status))
                except (aiohttp.ClientError, TimeoutError) as error:
                    self.callbacks.append(CallbackAttempt(task.task_id, task.callback_url, None, repr(error)))
        return len(due)

    async def drain_callbacks(self) -> None:
        """Wait for callbacks scheduled in the background (``send_callbacks=True``)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def _callback_due(self, task: FakeTask) -> bool:
        return bool(task.callback_url) and not task.callback_sent and self.phase(task) in ("succeeded", "failed")

    def _on_finished(self, task: FakeTask) -> None:
        if self.send_callbacks and self._callback_due(task):
            self._schedule_callbacks()

    def _schedule_callbacks(self) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self.fire_callbacks())
        except RuntimeError:  # finished by hand outside a loop: fire_callbacks() can be awaited later
            return
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _validate(body: object) -> str | None:
    """What is wrong with a generate body, per the document's parameter table; None when it is fine."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    mode = MODELS.get(body.get("model"))  # type: ignore[arg-type]
    if mode is None:
        return f"model must be one of {', '.join(MODELS)}"
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > 5000:
        return "prompt is required (max 5000 characters)"
    durations = ("5", "10") if mode == "video-to-video" else ("5", "10", "15")
    if body.get("duration", "5") not in durations:
        return f"duration must be one of {durations} (a string)"
    if body.get("resolution", "1080p") not in ("720p", "1080p"):
        return "resolution must be 720p or 1080p"
    for key, needed in (("image_urls", mode == "image-to-video"), ("video_urls", mode == "video-to-video")):
        urls = body.get(key)
        if urls is not None and not (isinstance(urls, list) and all(isinstance(url, str) for url in urls)):
            return f"{key} must be a list of strings"
        if needed and not urls:
            return f"{key} is required for {mode}"
    if "public" in body and not isinstance(body["public"], bool):
        return "public must be a boolean"
    if "callback_url" in body and not isinstance(body["callback_url"], str):
        return "callback_url must be a string"
    return None
