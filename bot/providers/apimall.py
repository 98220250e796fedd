"""Adapter for the apimall gateway (``POST /api/v1/videos/generate``, ``GET /api/v1/videos/{id}``).

Answers are ``{success: true, data}`` or ``{success: false, error: {code, message}}``. Every
create carries the job's ``Idempotency-Key``, so a create that got no answer is safe to repeat.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from yarl import URL

from bot.domain.models import Mode, VideoSpec
from bot.providers.base import (
    PermanentProviderError,
    ProviderAuthError,
    ProviderError,
    ProviderInfo,
    ProviderOutOfCredits,
    ProviderRefused,
    ProviderRejectedRequest,
    SubmitRequest,
    SubmitResult,
    TaskNotFound,
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

NAME = "apimall"
MODEL_ID = "wan2-6"

# The document's "normalized values"; any other word (management states such as created or
# active included) is UNKNOWN so polling continues until the job times out.
STATE_WORDS: dict[str, TaskState] = {
    "pending": TaskState.QUEUED,
    "processing": TaskState.RUNNING,
    "completed": TaskState.SUCCEEDED,
    "failed": TaskState.FAILED,
    "unknown": TaskState.UNKNOWN,
}

# Assumption: only ``insufficient_credits`` is documented; these fragments of an error code are
# guesses at the others, checked in order. Unmatched codes: permanent on create, transient on status.
_CODE_HINTS: tuple[tuple[tuple[str, ...], type[ProviderError]], ...] = (
    (("credit", "balance", "payment", "quota_exceeded"), ProviderOutOfCredits),
    (("moderation", "content_policy", "blocked", "nsfw", "unsafe", "sensitive"), ProviderRefused),
    (("auth", "api_key", "apikey", "token", "forbidden", "permission", "not_approved", "access"), ProviderAuthError),
    (
        (
            "rate_limit",
            "ratelimit",
            "too_many",
            "concurren",
            "busy",
            "unavailable",
            "timeout",
            "overload",
            "idempoten",
            "internal",
            "upstream",
        ),
        TransientProviderError,
    ),
    (("not_found", "notfound", "no_such"), TaskNotFound),
    (("invalid", "bad_request", "validation", "missing", "unsupported", "too_long"), ProviderRejectedRequest),
)


def generate_body(spec: VideoSpec) -> dict[str, Any]:
    """The JSON for ``POST /api/v1/videos/generate``."""
    body: dict[str, Any] = {
        "model": MODEL_ID,
        "type": spec.mode.value,
        "prompt": spec.prompt,
        "duration": str(spec.duration),
        "resolution": spec.resolution,
    }
    if spec.mode is Mode.IMAGE_TO_VIDEO:
        if not spec.image_url:
            raise ProviderRejectedRequest("image-to-video needs a reference image URL")
        body["image_urls"] = [spec.image_url]
    elif spec.mode is Mode.VIDEO_TO_VIDEO:
        if not spec.video_url:
            raise ProviderRejectedRequest("video-to-video needs a source video URL")
        body["video_url"] = spec.video_url  # one string here, unlike wan26ai's list
    return body


def _error_parts(body: object, clean: Callable[[str], str] = clip) -> tuple[str | None, str | None]:
    """``(code, message)`` from an error envelope; tolerates a bare string ``error``.

    The code goes into exceptions as ``provider_code``, so it is cleaned here; the message is
    cleaned by whoever builds the detail.
    """
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    if isinstance(error, dict):
        code = as_text(error.get("code"))
        return (clean(code)[:64] if code else None), as_text(error.get("message"))
    return None, as_text(error) or as_text(body.get("message"))


def error_for_code(
    code: str | None,
    detail: str,
    *,
    creates_task: bool,
    http_status: int | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    """The exception for a ``success: false`` envelope, judged by its error code."""
    numeric = as_int(code)
    if numeric is not None and 400 <= numeric < 600:  # a code that is itself an HTTP status
        return error_for_status(numeric, detail, creates_task=creates_task, retry_after=retry_after, provider_code=code)
    lowered = (code or "").lower()
    for fragments, error_class in _CODE_HINTS:
        if any(fragment in lowered for fragment in fragments):
            if error_class is TaskNotFound and creates_task:
                break
            if issubclass(error_class, TransientProviderError):
                return error_class(detail, http_status=http_status, provider_code=code, retry_after=retry_after)
            return error_class(detail, http_status=http_status, provider_code=code)
    if creates_task:
        return PermanentProviderError(detail, http_status=http_status, provider_code=code)
    return TransientProviderError(detail, http_status=http_status, provider_code=code, retry_after=retry_after)


def parse_status_body(
    body: object,
    *,
    task_id: str,
    retry_after: float | None = None,
    clean: Callable[[str], str] = clip,
) -> TaskStatus:
    """Turn a task JSON body into a ``TaskStatus``, or raise a ``ProviderError``."""
    if not isinstance(body, dict):
        raise TransientProviderError(clean(f"{NAME}: status answer is not a JSON object"))
    if body.get("success") is False:
        code, message = _error_parts(body, clean)
        detail = clean(f"{NAME} status check: {message or code or '(no message)'}")
        raise error_for_code(code, detail, creates_task=False, retry_after=retry_after)
    # Assumption: a missing ``success`` is tolerated when ``data`` looks like a task.
    data = body.get("data")
    if not isinstance(data, dict):
        raise TransientProviderError(clean(f"{NAME}: status answer has no data object"))
    reported_id = as_text(data.get("task_id"))
    if reported_id is not None and reported_id != task_id:
        raise TransientProviderError(clean(f"{NAME}: status answer is about another task"))

    raw_word = as_text(data.get("status"))
    state = STATE_WORDS.get(raw_word.lower(), TaskState.UNKNOWN) if raw_word else TaskState.UNKNOWN
    error_code, error_text = _failure_reason(data, clean)
    error_message = clean(error_text) if error_text else None
    urls: tuple[str, ...] = ()
    if state is TaskState.SUCCEEDED:
        # The document: "Use data.video_url as the final hosted asset URL"; resultUrls is the fallback.
        urls = http_urls(data.get("video_url"))
        if not urls:
            output = data.get("output")
            urls = http_urls(output.get("resultUrls")) if isinstance(output, dict) else ()
        if not urls:
            state, error_message = TaskState.FAILED, SUCCESS_WITHOUT_VIDEO
    elif state is TaskState.FAILED and looks_like_moderation(error_text, error_code):
        state = TaskState.REFUSED
    return TaskStatus(
        state=state,
        video_urls=urls,
        error_message=error_message,
        raw_status=clean(raw_word)[:64] if raw_word else None,
        charged_credits=_charged(data),
        refunded_credits=_refunded(data),
    )


def _failure_reason(data: dict[Any, Any], clean: Callable[[str], str]) -> tuple[str | None, str | None]:
    """``(code, message)`` of a failed task.

    The field list says ``error_message``; the document's own JavaScript reads ``failMsg``, so
    both are read, plus an ``error`` object or string and a ``failCode`` (assumed shapes).
    """
    code, message = _error_parts(data, clean)
    for key in ("error_message", "failMsg", "fail_msg"):
        message = message or as_text(data.get(key))
    for key in ("error_code", "failCode", "fail_code"):
        code = code or as_text(data.get(key))
    return code, message


def _charged(data: dict[Any, Any]) -> int | None:
    """Credits used minus credits refunded (assumption: ``credits_used`` is the gross charge)."""
    used = as_credits(data.get("credits_used"))
    if used is None:
        return None
    refunded = as_credits(data.get("credits_refunded"))
    return max(used - refunded, 0) if refunded is not None and refunded > 0 else used


def _refunded(data: dict[Any, Any]) -> int | None:
    return as_credits(data.get("credits_refunded"))


class ApimallProvider(HttpProvider):
    """The apimall gateway: idempotent creates; completion webhooks are account-level, not per task."""

    name = NAME
    provider_info = ProviderInfo(
        name=NAME,
        idempotent_submit=True,
        supports_callbacks=False,
        notes=("webhooks are configured per account on apimall, not per task",),
    )

    async def submit(self, request: SubmitRequest) -> SubmitResult:
        answer = await self._http.request(
            "POST",
            f"{self._base_url}/api/v1/videos/generate",
            json_body=generate_body(request.spec),
            headers={"Idempotency-Key": request.idempotency_key},
            creates_task=True,
        )
        if not answer.ok:
            raise self._http_error(answer, creates_task=True)
        if not answer.is_json or not isinstance(answer.data, dict):
            raise self._unreadable_create()
        if answer.data.get("success") is False:
            code, message = _error_parts(answer.data, self._http.detail)
            detail = self._http.detail(f"{NAME} create: {message or code or '(no message)'}")
            raise error_for_code(
                code, detail, creates_task=True, http_status=answer.status, retry_after=answer.retry_after
            )
        return self._created_task(answer)

    async def status(self, task_id: str) -> TaskStatus:
        self._require_task_id(task_id)
        answer = await self._http.request("GET", self._task_url(task_id), creates_task=False)
        if not answer.ok:
            raise self._http_error(answer, creates_task=False)
        self._require_json_status(answer)
        return parse_status_body(answer.data, task_id=task_id, retry_after=answer.retry_after, clean=self._http.detail)

    async def verify_key(self) -> None:
        answer = await self._http.request("GET", self._task_url(KEY_CHECK_TASK_ID), creates_task=False)
        code, message = _error_parts(answer.data, self._http.detail)
        refused_in_body = isinstance(answer.data, dict) and answer.data.get("success") is False
        key_refused = answer.status in (401, 403) or (
            refused_in_body and isinstance(error_for_code(code, "", creates_task=False), ProviderAuthError)
        )
        if key_refused:
            raise ProviderAuthError(
                self._http.detail(f"{NAME} rejected the API key: {message or code or answer.text}"),
                http_status=answer.status,
                provider_code=code,
            )
        # Any other real answer (usually 404 for the made-up task) means the key was accepted.

    def _task_url(self, task_id: str) -> URL:
        # Quoted like the document's encodeURIComponent; encoded=True stops yarl from re-quoting it.
        return URL(f"{self._base_url}/api/v1/videos/{quote(task_id, safe='')}", encoded=True)

    def _http_error(self, answer: HttpAnswer, *, creates_task: bool) -> ProviderError:
        code, message = _error_parts(answer.data, self._http.detail)
        action = "create" if creates_task else "status"
        detail = self._http.detail(f"{NAME} {action}: {message or code or answer.text or '(no message)'}")
        if answer.status == 409:
            # Assumption: the document says only "Idempotency-Key conflict"; we read it as the first
            # request with this key still being in flight, so trying again later is right.
            detail = self._http.detail(
                f"{NAME} {action}: Idempotency-Key conflict (assumed in flight): {message or code}"
            )
        if answer.status == 400 and looks_like_moderation(code):
            return ProviderRefused(detail, http_status=400, provider_code=code)
        return error_for_status(
            answer.status, detail, creates_task=creates_task, retry_after=answer.retry_after, provider_code=code
        )
