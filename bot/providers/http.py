"""Shared plumbing for the HTTP provider adapters.

One JSON request per call, answers turned into data or a ``ProviderError``, and the API key
kept out of every message: it lives only in the Authorization header built per request, and
every text that leaves this module (exception details, log lines) passes through ``redact``.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp
from pydantic import SecretStr
from yarl import URL

from bot.domain.models import VideoSpec
from bot.providers.base import (
    AmbiguousSubmitError,
    PermanentProviderError,
    ProviderAuthError,
    ProviderError,
    ProviderInfo,
    ProviderOutOfCredits,
    ProviderRefused,
    ProviderRejectedRequest,
    SubmitResult,
    TaskNotFound,
    TransientProviderError,
)

MAX_RETRY_AFTER_SECONDS = 600.0
MAX_BODY_BYTES = 1 << 20  # status and create answers are tiny; anything bigger is not one of them
MAX_DETAIL_CHARS = 300
REDACTED = "***"

# Assumption: neither document says how a moderation refusal is worded, so a failure whose
# message or code contains one of these (case-insensitive) is treated as a refusal, not a failure.
MODERATION_HINTS: tuple[str, ...] = (
    "moderation",
    "policy",
    "sensitive",
    "nsfw",
    "unsafe",
    "safety",
    "prohibited",
    "inappropriate",
    "violat",
)

SUCCESS_WITHOUT_VIDEO = "provider reported success without a video"


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of every non-empty secret (raw or URL-quoted) masked."""
    variants = {variant for secret in secrets if secret for variant in (secret, quote(secret, safe=""))}
    for secret in sorted(variants, key=len, reverse=True):  # longest first: no partial leftovers
        text = text.replace(secret, REDACTED)
    return text


def looks_like_moderation(*texts: str | None) -> bool:
    return any(hint in text.lower() for text in texts if text for hint in MODERATION_HINTS)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), capped; None if unusable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:  # RFC 9110 dates are GMT
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def parse_json(raw: bytes) -> tuple[bool, Any]:
    """``(True, value)`` for a JSON body, ``(False, None)`` for anything else."""
    try:
        return True, json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, None


def as_int(value: object) -> int | None:
    """An integer from an int or a digit string; None for bools, floats with fractions and junk."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdecimal():  # isdigit() would pass "²", which int() rejects
        return int(value.strip())
    return None


#: The largest credit figure a provider answer may give (PostgreSQL's INTEGER): no account is
#: charged more for one render, so a larger one is malformed and treated as not said.
MAX_CREDITS = 2**31 - 1


def as_credits(value: object) -> int | None:
    """A provider's credit figure: a non-negative integer small enough to store; None otherwise."""
    number = as_int(value)
    return number if number is not None and 0 <= number <= MAX_CREDITS else None


def as_text(value: object) -> str | None:
    """A non-empty string from a string or a number; None otherwise."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def http_urls(value: object) -> tuple[str, ...]:
    """The http(s) URLs in a list of strings or a single string; anything else is dropped."""
    items = value if isinstance(value, list) else [value]
    urls = (item.strip() for item in items if isinstance(item, str))
    return tuple(url for url in urls if url.lower().startswith(("https://", "http://")))


def clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def guess_render_seconds(spec: VideoSpec) -> float:
    """A first guess with no history: 60 s for 5 s at 720p, linear in duration, ×1.5 at 1080p.

    Neither document gives render times; this is a placeholder the job runner replaces with
    measured averages once renders have finished.
    """
    base = 60.0 * spec.duration / 5
    return base * 1.5 if spec.resolution == "1080p" else base


def error_for_status(
    status: int,
    detail: str,
    *,
    creates_task: bool,
    retry_after: float | None = None,
    provider_code: str | None = None,
) -> ProviderError:
    """The exception for a non-2xx HTTP status (or the same number used as an error code in a body)."""
    code = provider_code
    if status in (401, 403):
        return ProviderAuthError(detail, http_status=status, provider_code=code)
    if status == 402:
        return ProviderOutOfCredits(detail, http_status=status, provider_code=code)
    if status == 451:
        return ProviderRefused(detail, http_status=status, provider_code=code)
    if status in (400, 413, 414, 422):
        return ProviderRejectedRequest(detail, http_status=status, provider_code=code)
    if status in (404, 410):
        if creates_task:  # the create endpoint itself is missing: a wrong base_url, not a missing task
            return PermanentProviderError(
                f"{detail} (check the provider base_url)", http_status=status, provider_code=code
            )
        return TaskNotFound(detail, http_status=status, provider_code=code)
    if creates_task and status in (502, 504):
        # Assumption: a gateway error means a proxy gave up waiting, so the provider may have made the task.
        return AmbiguousSubmitError(detail, http_status=status, provider_code=code, retry_after=retry_after)
    if status in (408, 409, 425, 429) or status >= 500:
        return TransientProviderError(detail, http_status=status, provider_code=code, retry_after=retry_after)
    if creates_task:  # any other 3xx/4xx: retrying the same create cannot help
        return PermanentProviderError(detail, http_status=status, provider_code=code)
    # Any other answer to a status check: keep polling; the job's timeout ends it if it never clears.
    return TransientProviderError(detail, http_status=status, provider_code=code, retry_after=retry_after)


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A complete HTTP answer. ``text`` is already redacted; ``data`` is the parsed JSON when ``is_json``."""

    status: int
    text: str
    is_json: bool
    data: Any
    retry_after: float | None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class JsonHttpClient:
    """Sends one JSON request per call through a shared ``aiohttp.ClientSession``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        provider: str,
        api_key: SecretStr,
        timeout: float,
        logger: logging.Logger,
        log_bodies: bool = False,
    ) -> None:
        self._session = session
        self._provider = provider
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._log = logger
        self._log_bodies = log_bodies

    def __repr__(self) -> str:
        return f"JsonHttpClient(provider={self._provider!r})"

    def redact(self, text: str) -> str:
        return redact(text, [self._api_key.get_secret_value()])

    def detail(self, text: str) -> str:
        """Text fit for an exception: redacted and short."""
        return clip(self.redact(text))

    async def request(
        self,
        method: str,
        url: str | URL,
        *,
        creates_task: bool,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpAnswer:
        """Send the request and read the whole answer.

        Network failures become ``TransientProviderError``; on a create that may already have
        reached the provider they become ``AmbiguousSubmitError`` instead.
        """
        all_headers = {"Accept": "application/json", **(headers or {})}
        all_headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        what = f"{self._provider} {method} {URL(url).path}"
        if self._log_bodies:
            self._log.debug("%s request params=%s body=%s", what, self._dumps(params), self._dumps(json_body))
        try:
            async with self._session.request(
                method,
                url,
                json=json_body,
                params=params,
                headers=all_headers,
                timeout=self._timeout,
                allow_redirects=False,  # a redirect would carry the key elsewhere; treat it as an answer
            ) as response:
                raw = await self._read_capped(response)
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            # Failed while connecting: nothing was sent, so no task can exist.
            raise TransientProviderError(self.detail(f"{what}: cannot connect ({type(error).__name__})")) from None
        except aiohttp.InvalidURL:
            raise PermanentProviderError(self.detail(f"{what}: invalid URL (check the provider base_url)")) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            # ``from None``: aiohttp's own exceptions can carry the request headers in their repr.
            reason = "timed out" if isinstance(error, TimeoutError) else f"connection failed ({type(error).__name__})"
            error_class = AmbiguousSubmitError if creates_task else TransientProviderError
            raise error_class(self.detail(f"{what}: {reason}")) from None
        except ValueError:
            # aiohttp refuses header values with control characters before sending anything;
            # the message is not passed on because the offending value may be the key.
            raise PermanentProviderError(
                f"{what}: the request could not be built (a header value such as the API key has forbidden characters)"
            ) from None

        if raw is None:
            text, is_json, data = f"(body larger than {MAX_BODY_BYTES} bytes)", False, None
        else:
            text = self.redact(raw.decode("utf-8", errors="replace"))
            is_json, data = parse_json(raw)
        if self._log_bodies:
            self._log.debug("%s answered HTTP %s: %s", what, status, clip(text, 4000))
        return HttpAnswer(status=status, text=text, is_json=is_json, data=data, retry_after=retry_after)

    @staticmethod
    async def _read_capped(response: aiohttp.ClientResponse) -> bytes | None:
        """The body, or None when it is larger than any answer we expect."""
        body = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return None
        return bytes(body)

    def _dumps(self, value: object) -> str:
        if value is None:
            return "-"
        return self.redact(json.dumps(value, ensure_ascii=False, default=str))


# A made-up task id for verify_key: any answer but 401/403 about it proves the key works.
KEY_CHECK_TASK_ID = "wanbot-key-check-no-such-task"


class HttpProvider:
    """What the two HTTP adapters share: construction, identity, and the checks both documents
    agree on (a create answer must carry ``data.task_id``; a status answer must be JSON).
    Each subclass keeps its own paths, envelopes and error mapping."""

    name: ClassVar[str]
    provider_info: ClassVar[ProviderInfo]

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: SecretStr,
        timeout: float,
        log_bodies: bool = False,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._http = JsonHttpClient(
            session,
            provider=self.name,
            api_key=api_key,
            timeout=timeout,
            logger=logging.getLogger(type(self).__module__),
            log_bodies=log_bodies,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r})"

    @property
    def info(self) -> ProviderInfo:
        return self.provider_info

    def expected_render_seconds(self, spec: VideoSpec) -> float:
        return guess_render_seconds(spec)

    def _created_task(self, answer: HttpAnswer) -> SubmitResult:
        """The task id of a successful create; anything less means the task may or may not exist."""
        data = answer.data.get("data") if isinstance(answer.data, dict) else None
        task_id = as_text(data.get("task_id")) if isinstance(data, dict) else None
        if task_id is None:
            detail = f"{self.name} create: answer has no task_id; the task may exist"
            raise AmbiguousSubmitError(self._http.detail(detail))
        # apimall's create answer says what it charged; wan26ai's says nothing (None).
        charged = as_credits(data.get("credits_used")) if isinstance(data, dict) else None
        return SubmitResult(task_id=task_id, charged_credits=charged if charged is not None and charged >= 0 else None)

    def _unreadable_create(self) -> AmbiguousSubmitError:
        return AmbiguousSubmitError(self._http.detail(f"{self.name} create: unreadable answer; the task may exist"))

    def _require_json_status(self, answer: HttpAnswer) -> None:
        if not answer.is_json:
            raise TransientProviderError(
                self._http.detail(f"{self.name} status: unreadable answer"), http_status=answer.status
            )

    def _require_task_id(self, task_id: str) -> None:
        if not task_id:
            raise TaskNotFound(f"{self.name}: empty task id")
