"""A fake of the apimall gateway: ``POST /api/v1/videos/generate`` and ``GET /api/v1/videos/{task_id}``.

Answers use the documented ``success``/``data``/``error`` envelopes. ``Idempotency-Key`` is
honoured: the same key with the same body replays the first answer (no second task), the same
key with another body is a 409. ``max_concurrent`` answers 429 while that many tasks are unfinished.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes import FakeProviderServer, FakeTask, RecordedRequest, task_price

MODEL = "wan2-6"
TYPES = ("text-to-video", "image-to-video", "video-to-video")
STATUS_WORDS = {"queued": "pending", "running": "processing", "succeeded": "completed", "failed": "failed"}
# The usual error code for each status; only insufficient_credits is in the document.
ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    402: "insufficient_credits",
    403: "access_not_approved",
    404: "not_found",
    409: "idempotency_conflict",
    429: "rate_limit_exceeded",
    451: "content_moderation",
    500: "internal_error",
    503: "upstream_unavailable",
}


class FakeApimall(FakeProviderServer):
    def __init__(
        self, *, max_concurrent: int | None = None, concurrency_retry_after: float = 5, **options: Any
    ) -> None:
        super().__init__(**options)
        self.max_concurrent = max_concurrent
        self.concurrency_retry_after = concurrency_retry_after
        self.idempotent_replays = 0  # creates answered from the Idempotency-Key store
        self._by_key: dict[str, tuple[str, dict[str, Any]]] = {}  # key → (canonical body, first answer)
        self._request_ids = 0

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/videos/generate", self._wrap("generate", self._generate))
        app.router.add_get("/api/v1/videos/{task_id}", self._wrap("status", self._status))

    def _error_body(self, status: int, code: str | int | None, message: str) -> dict[str, Any]:
        chosen = ERROR_CODES.get(status, "error") if code is None else code
        return {"success": False, "error": {"code": chosen, "message": message}, "request_id": self._request_id()}

    def _request_id(self) -> str:
        self._request_ids += 1
        return f"req_{self._request_ids:08d}"

    async def _generate(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        body = record.json
        key = record.idempotency_key
        canonical = json.dumps(body, sort_keys=True)
        if key is not None and key in self._by_key:
            first_body, first_answer = self._by_key[key]
            if first_body != canonical:
                return self._error(409, None, "Idempotency-Key was used with a different request body")
            self.idempotent_replays += 1
            return self._json(first_answer)
        problem = _validate(body)
        if problem is not None:
            return self._error(400, None, problem)
        assert isinstance(body, dict)
        if self.max_concurrent is not None and self.unfinished() >= self.max_concurrent:
            response = self._error(429, "too_many_concurrent_jobs", "Too many concurrent jobs")
            response.headers["Retry-After"] = str(self.concurrency_retry_after)
            return response
        price = task_price(body)
        if self.credits is not None and self.credits < price:
            return self._error(402, None, "Insufficient credits")
        task = self._new_task("vid_", body, credits=price, idempotency_key=key)
        answer = {
            "success": True,
            "data": {
                "task_id": task.task_id,
                "request_id": f"provider_{task.task_id}",
                "credits_used": price,
                "remaining_credits": self.credits,
                "model": MODEL,
            },
            "request_id": self._request_id(),
        }
        if key is not None:
            self._by_key[key] = (canonical, answer)
        return self._json(answer)

    async def _status(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        task = self.tasks.get(request.match_info["task_id"])
        if task is None:
            return self._error(404, None, "Task not found")
        return self._json({"success": True, "data": self.task_data(task), "request_id": self._request_id()})

    def task_data(self, task: FakeTask) -> dict[str, Any]:
        phase = self.phase(task)
        done = phase in ("succeeded", "failed")
        url = self.file_url(task.task_id) if phase == "succeeded" else None
        created = _iso(task.created_wall)
        return {
            "task_id": task.task_id,
            "model": MODEL,
            "status": task.raw_status or STATUS_WORDS[phase],
            "output": {"resultUrls": [url]} if url else None,
            "video_url": url,
            "error_message": task.error_message if phase == "failed" else None,
            "credits_used": task.credits,
            "credits_refunded": task.credits if phase == "failed" else 0,
            "created_at": created,
            "updated_at": created,
            "completed_at": created if done else None,
        }


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _validate(body: object) -> str | None:
    """What is wrong with a generate body; None when it is fine."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    if body.get("model") != MODEL:
        return f"model must be {MODEL}"
    kind = body.get("type", "text-to-video")
    if kind not in TYPES:
        return f"type must be one of {', '.join(TYPES)}"
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        return "prompt must be a string"
    if kind == "text-to-video" and not prompt:
        return "prompt is required for text-to-video"
    durations = ("5", "10") if kind == "video-to-video" else ("5", "10", "15")
    if body.get("duration", "5") not in durations:
        return f"duration must be one of {durations} (a string)"
    if body.get("resolution", "720p") not in ("720p", "1080p"):
        return "resolution must be 720p or 1080p"
    images = body.get("image_urls")
    if images is not None and not (isinstance(images, list) and all(isinstance(url, str) for url in images)):
        return "image_urls must be a list of strings"
    if kind == "image-to-video" and not images:
        return "image_urls is required for image-to-video"
    video = body.get("video_url")
    if video is not None and not isinstance(video, str):
        return "video_url must be a string"
    if kind == "video-to-video" and not video:
        return "video_url is required for video-to-video"
    return None
