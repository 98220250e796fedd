"""Adapter for the wan26ai.app API (``POST /api/generate``, ``GET /api/status``).

Answers come in a ``{code, message, data}`` envelope whose ``code`` may disagree with the
HTTP status (HTTP 200 carrying ``code: 402``); a non-success body code wins over a 200.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.domain.models import Mode
from bot.providers.base import (
    ProviderAuthError,
    ProviderInfo,
    ProviderRejectedRequest,
    SubmitRequest,
    SubmitResult,
    TaskState,
    TaskStatus,
    TransientProviderError,
)
from bot.providers.http import (
    KEY_CHECK_TASK_ID,
    SUCCESS_WITHOUT_VIDEO,
    HttpAnswer,
    HttpProvider,
    as_credits,
    as_int,
    as_text,
    clip,
    error_for_status,
    http_urls,
    looks_like_moderation,
)

NAME = "wan26ai"
MODEL_IDS: dict[Mode, str] = {
    Mode.TEXT_TO_VIDEO: "wan/2-6-text-to-video",
    Mode.IMAGE_TO_VIDEO: "wan/2-6-image-to-video",
    Mode.VIDEO_TO_VIDEO: "wan/2-6-video-to-video",
}
# A task id no real task has: a status check for it proves the key without creating anything.

# The document shows IN_PROGRESS, SUCCESS and (implied by error_message) FAILED. The other words
# are assumed synonyms; anything not listed is UNKNOWN and polling simply continues.
STATE_WORDS: dict[str, TaskState] = {
    "PENDING": TaskState.QUEUED,
    "QUEUED": TaskState.QUEUED,
    "QUEUING": TaskState.QUEUED,
    "WAITING": TaskState.QUEUED,
    "SUBMITTED": TaskState.QUEUED,
    "CREATED": TaskState.QUEUED,
    "IN_PROGRESS": TaskState.RUNNING,
    "PROCESSING": TaskState.RUNNING,
    "RUNNING": TaskState.RUNNING,
    "GENERATING": TaskState.RUNNING,
    "SUCCESS": TaskState.SUCCEEDED,
    "SUCCEEDED": TaskState.SUCCEEDED,
    "COMPLETED": TaskState.SUCCEEDED,
    "FAILED": TaskState.FAILED,
    "FAILURE": TaskState.FAILED,
    "ERROR": TaskState.FAILED,
    "CANCELLED": TaskState.FAILED,
    "CANCELED": TaskState.FAILED,
}


def generate_body(request: SubmitRequest) -> dict[str, Any]:
    """The JSON for ``POST /api/generate``."""
    spec = request.spec
    body: dict[str, Any] = {
        "model": MODEL_IDS[spec.mode],
        "prompt": spec.prompt,
        "duration": str(spec.duration),  # the document types duration as a string
        "resolution": spec.resolution,
        "public": request.public,  # always explicit: the document does not say what the default is
    }
    if spec.mode is Mode.IMAGE_TO_VIDEO:
        if not spec.image_url:
            raise ProviderRejectedRequest("image-to-video needs a reference image URL")
        body["image_urls"] = [spec.image_url]
    elif spec.mode is Mode.VIDEO_TO_VIDEO:
        if not spec.video_url:
            raise ProviderRejectedRequest("video-to-video needs a source video URL")
        body["video_urls"] = [spec.video_url]
    if request.callback_url:
        body["callback_url"] = request.callback_url
    return body


def _body_code_is_error(body: dict[Any, Any]) -> int | None:
    """The body's ``code`` when it is a numeric non-success code, else None.

    Assumption: a missing or non-numeric code says nothing, and 0 is a success like 2xx.
    """
    code = as_int(body.get("code"))
    if code is None or code == 0 or 200 <= code < 300:
        return None
    return code


def _message(body: object, fallback: str) -> str:
    if isinstance(body, dict):
        message = as_text(body.get("message"))
        if message:
            return message
    return fallback or "(no message)"


def parse_status_body(
    body: object,
    *,
    task_id: str,
    retry_after: float | None = None,
    clean: Callable[[str], str] = clip,
) -> TaskStatus:
    """Turn a ``/api/status`` JSON body into a ``TaskStatus``, or raise a ``ProviderError``.

    ``clean`` redacts and shortens provider text before it goes into a status or an exception.
    """
    if not isinstance(body, dict):
        raise TransientProviderError(clean(f"{NAME}: status answer is not a JSON object"))
    code = _body_code_is_error(body)
    if code is not None:
        detail = clean(f"{NAME} status check: {_message(body, '')}")
        raise error_for_status(code, detail, creates_task=False, retry_after=retry_after, provider_code=str(code))
    data = body.get("data")
    if not isinstance(data, dict):
        raise TransientProviderError(clean(f"{NAME}: status answer has no data object"))
    reported_id = as_text(data.get("task_id"))
    if reported_id is not None and reported_id != task_id:
        # Assumption: an answer about another task is garbled, not news about ours.
        raise TransientProviderError(clean(f"{NAME}: status answer is about another task"))

    raw_word = as_text(data.get("status"))
    state = (
        STATE_WORDS.get(raw_word.upper().replace("-", "_").replace(" ", "_"), TaskState.UNKNOWN)
        if raw_word
        else TaskState.UNKNOWN
    )
    error_text = as_text(data.get("error_message"))
    error_message = clean(error_text) if error_text else None
    credits = as_credits(data.get("consumed_credits"))
    urls: tuple[str, ...] = ()
    if state is TaskState.SUCCEEDED:
        urls = http_urls(data.get("response"))
        if not urls:
            state, error_message = TaskState.FAILED, SUCCESS_WITHOUT_VIDEO
    elif state is TaskState.FAILED and looks_like_moderation(error_text):
        state = TaskState.REFUSED
    return TaskStatus(
        state=state,
        video_urls=urls,
        error_message=error_message,
        raw_status=clean(raw_word)[:64] if raw_word else None,
        charged_credits=credits if credits is not None and credits >= 0 else None,
    )


class Wan26aiProvider(HttpProvider):
    """wan26ai.app: no idempotency key, so a create that got no answer may have made a task."""

    name = NAME
    provider_info = ProviderInfo(
        name=NAME,
        idempotent_submit=False,
        supports_callbacks=True,
        notes=("no Idempotency-Key in the API: an unanswered create may still have made a task",),
    )

    async def submit(self, request: SubmitRequest) -> SubmitResult:
        body = generate_body(request)
        answer = await self._http.request("POST", f"{self._base_url}/api/generate", json_body=body, creates_task=True)
        self._raise_for_http_status(answer, creates_task=True)
        if not answer.is_json or not isinstance(answer.data, dict):
            raise self._unreadable_create()
        code = _body_code_is_error(answer.data)
        if code is not None:
            detail = self._http.detail(f"{NAME} create: {_message(answer.data, answer.text)}")
            raise error_for_status(
                code, detail, creates_task=True, retry_after=answer.retry_after, provider_code=str(code)
            )
        return self._created_task(answer)

    async def status(self, task_id: str) -> TaskStatus:
        self._require_task_id(task_id)
        answer = await self._http.request(
            "GET", f"{self._base_url}/api/status", params={"task_id": task_id}, creates_task=False
        )
        self._raise_for_http_status(answer, creates_task=False)
        self._require_json_status(answer)
        return parse_status_body(answer.data, task_id=task_id, retry_after=answer.retry_after, clean=self._http.detail)

    async def verify_key(self) -> None:
        answer = await self._http.request(
            "GET", f"{self._base_url}/api/status", params={"task_id": KEY_CHECK_TASK_ID}, creates_task=False
        )
        body_code = _body_code_is_error(answer.data) if isinstance(answer.data, dict) else None
        for code in (answer.status, body_code):
            if code in (401, 403):
                raise ProviderAuthError(
                    self._http.detail(f"{NAME} rejected the API key: {_message(answer.data, answer.text)}"),
                    http_status=code,
                )
        # Any other real answer (usually 404 for the made-up task) means the key was accepted.

    def _raise_for_http_status(self, answer: HttpAnswer, *, creates_task: bool) -> None:
        if answer.ok:
            return
        action = "create" if creates_task else "status"
        detail = self._http.detail(f"{NAME} {action}: {_message(answer.data, answer.text)}")
        body_code = as_text(answer.data.get("code")) if isinstance(answer.data, dict) else None
        body_code = self._http.detail(body_code)[:64] if body_code else None
        raise error_for_status(
            answer.status, detail, creates_task=creates_task, retry_after=answer.retry_after, provider_code=body_code
        )
