"""The apimall adapter against a loopback fake of the gateway."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.domain.models import Mode, VideoSpec
from bot.providers.apimall import ApimallProvider, parse_status_body
from bot.providers.base import (
    AmbiguousSubmitError,
    PermanentProviderError,
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderOutOfCredits,
    ProviderRefused,
    ProviderRejectedRequest,
    SubmitRequest,
    TaskNotFound,
    TaskState,
    TaskStatus,
    TransientProviderError,
)
from bot.providers.http import MAX_CREDITS, SUCCESS_WITHOUT_VIDEO
from tests.fakes import ManualClock
from tests.fakes.apimall_server import FakeApimall
from tests.providers.conftest import closed_port_url

API_KEY = "am-secret-KEY-fedcba9876543210"
IMAGE = "https://cdn.example.com/cat.png"
VIDEO = "https://cdn.example.com/clip.mp4"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def server(clock: ManualClock) -> AsyncIterator[FakeApimall]:
    async with FakeApimall(api_key=API_KEY, clock=clock, render_seconds=60, queue_seconds=10) as fake:
        yield fake


def make_provider(
    session: aiohttp.ClientSession,
    base_url: str,
    *,
    api_key: str = API_KEY,
    timeout: float = 2.0,
    log_bodies: bool = False,
) -> ApimallProvider:
    return ApimallProvider(
        session, base_url=base_url, api_key=SecretStr(api_key), timeout=timeout, log_bodies=log_bodies
    )


@pytest.fixture
def provider(session: aiohttp.ClientSession, server: FakeApimall) -> ApimallProvider:
    return make_provider(session, server.base_url)


def submit_request(
    mode: Mode = Mode.TEXT_TO_VIDEO,
    *,
    key: str = "job-1",
    prompt: str = "a cat surfing a wave",
    duration: Any = 5,
    resolution: Any = "720p",
) -> SubmitRequest:
    spec = VideoSpec(
        mode=mode,
        prompt=prompt,
        duration=duration,
        resolution=resolution,
        image_url=IMAGE if mode is Mode.IMAGE_TO_VIDEO else None,
        video_url=VIDEO if mode is Mode.VIDEO_TO_VIDEO else None,
    )
    # callback_url and public are wan26ai-only: apimall must not send them.
    return SubmitRequest(spec=spec, idempotency_key=key, callback_url="https://bot.example/cb", public=True)


# --- submit and idempotency ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "duration", "resolution", "extra"),
    [
        (Mode.TEXT_TO_VIDEO, 15, "1080p", {}),
        (Mode.IMAGE_TO_VIDEO, 10, "720p", {"image_urls": [IMAGE]}),
        (Mode.VIDEO_TO_VIDEO, 5, "720p", {"video_url": VIDEO}),
    ],
)
async def test_submit_sends_the_documented_body(
    provider: ApimallProvider, server: FakeApimall, mode: Mode, duration: int, resolution: str, extra: dict[str, Any]
) -> None:
    result = await provider.submit(submit_request(mode, duration=duration, resolution=resolution))

    assert result.task_id in server.tasks
    [sent] = server.requests_to("generate")
    assert sent.method == "POST" and sent.path == "/api/v1/videos/generate"
    assert sent.json == {
        "model": "wan2-6",
        "type": mode.value,
        "prompt": "a cat surfing a wave",
        "duration": str(duration),
        "resolution": resolution,
        **extra,
    }
    assert sent.idempotency_key == "job-1"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"


async def test_a_retried_create_makes_no_second_task(provider: ApimallProvider, server: FakeApimall) -> None:
    server.inject("generate", drop=True)  # made the task, lost the answer

    with pytest.raises(AmbiguousSubmitError):
        await provider.submit(submit_request())
    retried = await provider.submit(submit_request())
    again = await provider.submit(submit_request())

    assert len(server.tasks) == 1
    assert retried.task_id == again.task_id == next(iter(server.tasks))
    assert server.idempotent_replays == 2
    assert [request.idempotency_key for request in server.requests_to("generate")] == ["job-1"] * 3


async def test_a_timed_out_create_retried_makes_no_second_task(
    session: aiohttp.ClientSession, server: FakeApimall
) -> None:
    provider = make_provider(session, server.base_url, timeout=0.2)
    server.inject("generate", delay=2)

    with pytest.raises(AmbiguousSubmitError):
        await provider.submit(submit_request())
    retried = await provider.submit(submit_request())

    assert list(server.tasks) == [retried.task_id]


async def test_same_key_with_another_body_is_a_transient_conflict(
    provider: ApimallProvider, server: FakeApimall
) -> None:
    await provider.submit(submit_request())

    with pytest.raises(TransientProviderError) as caught:
        await provider.submit(submit_request(prompt="something else"))

    assert type(caught.value) is TransientProviderError
    assert caught.value.http_status == 409
    assert len(server.tasks) == 1


async def test_other_keys_make_other_tasks(provider: ApimallProvider, server: FakeApimall) -> None:
    first = await provider.submit(submit_request(key="job-1"))
    second = await provider.submit(submit_request(key="job-2"))

    assert first.task_id != second.task_id and len(server.tasks) == 2


async def test_too_many_concurrent_jobs_is_429_with_retry_after(
    provider: ApimallProvider, server: FakeApimall, clock: ManualClock
) -> None:
    server.max_concurrent = 1
    await provider.submit(submit_request(key="job-1"))

    with pytest.raises(TransientProviderError) as caught:
        await provider.submit(submit_request(key="job-2"))
    assert caught.value.http_status == 429 and caught.value.retry_after == 5

    clock.advance(60)  # the first one finished
    await provider.submit(submit_request(key="job-2"))
    assert len(server.tasks) == 2


# --- status --------------------------------------------------------------------------------


async def test_status_queued_running_succeeded(
    provider: ApimallProvider, server: FakeApimall, clock: ManualClock
) -> None:
    task_id = (await provider.submit(submit_request())).task_id

    queued = await provider.status(task_id)
    clock.advance(10)
    running = await provider.status(task_id)
    clock.advance(50)
    done = await provider.status(task_id)

    assert (queued.state, queued.raw_status) == (TaskState.QUEUED, "pending")
    assert (running.state, running.raw_status) == (TaskState.RUNNING, "processing")
    assert done.state is TaskState.SUCCEEDED
    assert done.video_urls == (server.file_url(task_id),)
    assert done.charged_credits == 80
    assert server.requests_to("status")[-1].path == f"/api/v1/videos/{task_id}"


async def test_task_id_is_url_quoted(provider: ApimallProvider, server: FakeApimall) -> None:
    with pytest.raises(TaskNotFound):
        await provider.status("id with space?x=1")

    [sent] = server.requests_to("status")
    assert sent.raw_path == "/api/v1/videos/id%20with%20space%3Fx%3D1"
    assert sent.query == {}


async def test_failed_and_refused(provider: ApimallProvider, server: FakeApimall) -> None:
    broken = (await provider.submit(submit_request(key="a"))).task_id
    blocked = (await provider.submit(submit_request(key="b"))).task_id
    server.fail(broken, "upstream render error")
    server.fail(blocked, "Blocked by content moderation")

    failed = await provider.status(broken)
    refused = await provider.status(blocked)

    assert (failed.state, failed.error_message, failed.charged_credits, failed.refunded_credits) == (
        TaskState.FAILED,
        "upstream render error",
        0,
        80,
    )
    assert refused.state is TaskState.REFUSED


async def test_the_create_answer_says_what_it_charged(provider: ApimallProvider, server: FakeApimall) -> None:
    created = await provider.submit(submit_request())
    assert created.charged_credits == 80  # data.credits_used of the create answer
    done = await provider.status(created.task_id)
    assert done.refunded_credits == 0


def task_body(**data: Any) -> dict[str, Any]:
    return {"success": True, "data": {"task_id": "vid_1", "model": "wan2-6", **data}}


@pytest.mark.parametrize(
    ("data", "state", "urls"),
    [
        ({"status": "completed", "video_url": "https://a/v.mp4"}, TaskState.SUCCEEDED, ("https://a/v.mp4",)),
        (
            {"status": "completed", "video_url": None, "output": {"resultUrls": ["https://a/1.mp4"]}},
            TaskState.SUCCEEDED,
            ("https://a/1.mp4",),
        ),
        (
            {"status": "completed", "output": {"resultUrls": "https://a/2.mp4"}},
            TaskState.SUCCEEDED,
            ("https://a/2.mp4",),
        ),
        ({"status": "completed", "video_url": "s3://bucket/v.mp4"}, TaskState.FAILED, ()),
        ({"status": "completed"}, TaskState.FAILED, ()),
        ({"status": "failed", "error": {"code": "content_moderation", "message": "no"}}, TaskState.REFUSED, ()),
        ({"status": "failed", "failMsg": "NSFW input image"}, TaskState.REFUSED, ()),
        ({"status": "failed", "error_message": "timeout in worker"}, TaskState.FAILED, ()),
        ({"status": "unknown"}, TaskState.UNKNOWN, ()),
        ({"status": "active"}, TaskState.UNKNOWN, ()),
        ({"status": "PROCESSING"}, TaskState.RUNNING, ()),
        ({}, TaskState.UNKNOWN, ()),
    ],
)
async def test_status_bodies(
    provider: ApimallProvider, server: FakeApimall, data: dict[str, Any], state: TaskState, urls: tuple[str, ...]
) -> None:
    server.inject("status", json=task_body(**data))

    status = await provider.status("vid_1")

    assert status.state is state and status.video_urls == urls
    if state is TaskState.FAILED and data.get("status") == "completed":
        assert status.error_message == SUCCESS_WITHOUT_VIDEO


async def test_unknown_task_is_not_found(provider: ApimallProvider) -> None:
    with pytest.raises(TaskNotFound) as caught:
        await provider.status("vid_missing")
    assert caught.value.http_status == 404 and caught.value.provider_code == "not_found"


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ProviderRejectedRequest),
        (401, ProviderAuthError),
        (402, ProviderOutOfCredits),
        (403, ProviderAuthError),
        (409, TransientProviderError),
        (429, TransientProviderError),
        (451, ProviderRefused),
        (500, TransientProviderError),
        (502, AmbiguousSubmitError),
        (503, TransientProviderError),
        (504, AmbiguousSubmitError),
    ],
)
async def test_create_http_errors(
    provider: ApimallProvider, server: FakeApimall, status: int, error: type[ProviderError]
) -> None:
    server.inject("generate", status=status, retry_after=3)

    with pytest.raises(error) as caught:
        await provider.submit(submit_request())

    assert type(caught.value) is error and caught.value.http_status == status
    if isinstance(caught.value, TransientProviderError):
        assert caught.value.retry_after == 3
    assert len(server.requests_to("generate")) == 1  # one request, no retry
    assert not server.tasks


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, ProviderAuthError),
        (404, TaskNotFound),
        (429, TransientProviderError),
        (500, TransientProviderError),
        (502, TransientProviderError),
        (503, TransientProviderError),
    ],
)
async def test_status_http_errors(
    provider: ApimallProvider, server: FakeApimall, status: int, error: type[ProviderError]
) -> None:
    server.inject("status", status=status, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")

    with pytest.raises(error) as caught:
        await provider.status("vid_1")
    assert type(caught.value) is error
    if isinstance(caught.value, TransientProviderError):
        assert caught.value.retry_after == 0  # a date in the past: no wait


async def test_400_with_a_moderation_code_is_refused(provider: ApimallProvider, server: FakeApimall) -> None:
    server.inject("generate", status=400, error_code="content_moderation_failed")

    with pytest.raises(ProviderRefused):
        await provider.submit(submit_request())


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("insufficient_credits", ProviderOutOfCredits),
        ("invalid_api_key", ProviderAuthError),
        ("rate_limit_exceeded", TransientProviderError),
        ("prompt_blocked_by_moderation", ProviderRefused),
        ("invalid_parameter", ProviderRejectedRequest),
        ("402", ProviderOutOfCredits),
        ("something_new", PermanentProviderError),
        (None, PermanentProviderError),
    ],
)
async def test_http_200_error_envelope_on_create(
    provider: ApimallProvider, server: FakeApimall, code: str | None, error: type[ProviderError]
) -> None:
    if code is None:
        server.inject("generate", json={"success": False, "error": "broken"})
    else:
        server.inject("generate", error_code=code)

    with pytest.raises(error) as caught:
        await provider.submit(submit_request())
    assert type(caught.value) is error


@pytest.mark.parametrize(
    ("code", "error"),
    [("something_new", TransientProviderError), ("task_not_found", TaskNotFound), ("unauthorized", ProviderAuthError)],
)
async def test_http_200_error_envelope_on_status(
    provider: ApimallProvider, server: FakeApimall, code: str, error: type[ProviderError]
) -> None:
    server.inject("status", error_code=code)

    with pytest.raises(error) as caught:
        await provider.status("vid_1")
    assert type(caught.value) is error


async def test_out_of_credits_for_real(session: aiohttp.ClientSession, clock: ManualClock) -> None:
    async with FakeApimall(api_key=API_KEY, clock=clock, credits=100) as fake:
        provider = make_provider(session, fake.base_url)
        await provider.submit(submit_request(key="a"))  # 80 of 100
        with pytest.raises(ProviderOutOfCredits):
            await provider.submit(submit_request(key="b"))
        assert fake.credits == 20


@pytest.mark.parametrize(
    "fault",
    [
        {"malformed": True},
        {"body": "<html>gateway</html>"},
        {"json": {"success": True, "data": {"model": "wan2-6"}}},
        {"json": {"success": True}},
        {"json": "ok"},
    ],
)
async def test_unreadable_create_answer_is_ambiguous(
    provider: ApimallProvider, server: FakeApimall, fault: dict[str, Any]
) -> None:
    server.inject("generate", **fault)

    with pytest.raises(AmbiguousSubmitError):
        await provider.submit(submit_request())


@pytest.mark.parametrize("fault", [{"malformed": True}, {"body": "oops"}, {"json": {"success": True, "data": []}}])
async def test_unreadable_status_answer_is_transient(
    provider: ApimallProvider, server: FakeApimall, fault: dict[str, Any]
) -> None:
    server.inject("status", **fault)

    with pytest.raises(TransientProviderError) as caught:
        await provider.status("vid_1")
    assert not isinstance(caught.value, AmbiguousSubmitError)


async def test_slow_and_dropped_status_checks_are_transient(
    session: aiohttp.ClientSession, server: FakeApimall
) -> None:
    provider = make_provider(session, server.base_url, timeout=0.2)
    server.inject("status", delay=2)
    server.inject("status", drop=True, times=2)  # aiohttp resends a dropped GET once by itself

    for _ in range(2):
        with pytest.raises(TransientProviderError) as caught:
            await provider.status("vid_1")
        assert not isinstance(caught.value, AmbiguousSubmitError)


async def test_a_key_with_control_characters_fails_before_sending(
    session: aiohttp.ClientSession, server: FakeApimall
) -> None:
    bad_key = "line-one\nX-Injected: yes"
    provider = make_provider(session, server.base_url, api_key=bad_key)

    with pytest.raises(PermanentProviderError) as caught:
        await provider.submit(submit_request())

    assert "line-one" not in str(caught.value) and "line-one" not in repr(caught.value)
    assert not server.requests


async def test_connection_refused_is_plain_transient(session: aiohttp.ClientSession) -> None:
    provider = make_provider(session, closed_port_url())

    with pytest.raises(TransientProviderError) as caught:
        await provider.submit(submit_request())
    assert not isinstance(caught.value, AmbiguousSubmitError)


# --- verify_key, info, secrets -------------------------------------------------------------


async def test_verify_key(session: aiohttp.ClientSession, server: FakeApimall) -> None:
    await make_provider(session, server.base_url).verify_key()  # 404 for the made-up task: the key works
    with pytest.raises(ProviderAuthError):
        await make_provider(session, server.base_url, api_key="wrong").verify_key()
    server.inject("status", error_code="invalid_api_key")
    with pytest.raises(ProviderAuthError):
        await make_provider(session, server.base_url).verify_key()
    with pytest.raises(TransientProviderError):
        await make_provider(session, closed_port_url()).verify_key()
    assert not server.tasks


def test_info(provider: ApimallProvider) -> None:
    assert isinstance(provider, Provider)
    assert (provider.info.name, provider.info.idempotent_submit, provider.info.supports_callbacks) == (
        "apimall",
        True,
        False,
    )
    assert provider.expected_render_seconds(submit_request(duration=10).spec) == 120


async def test_api_key_never_leaks(
    session: aiohttp.ClientSession, server: FakeApimall, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = make_provider(session, server.base_url, log_bodies=True)
    echo = f"key {API_KEY} is not approved"
    seen: list[object] = [provider]

    for fault in (
        {"status": 403, "error_message": echo},
        {"error_code": "insufficient_credits", "error_message": echo},
        {"error_code": API_KEY},
        {"status": 409, "error_message": echo},
        {"body": API_KEY},
    ):
        server.inject("generate", **fault)
        with pytest.raises(ProviderError) as caught:
            await provider.submit(submit_request())
        seen.append(caught.value)
    task_id = (await provider.submit(submit_request(prompt=f"prompt with {API_KEY}"))).task_id
    server.fail(task_id, echo)
    seen.append(await provider.status(task_id))
    server.inject("status", json=task_body(status=API_KEY))
    seen.append(await provider.status("vid_1"))

    for item in seen:
        assert API_KEY not in str(item) and API_KEY not in repr(item)
    assert "Authorization" not in caplog.text
    assert API_KEY not in caplog.text
    assert "***" in caplog.text


# --- the parser never crashes --------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
words = st.sampled_from(["pending", "processing", "completed", "failed", "unknown", "created", ""])
status_bodies = st.fixed_dictionaries(
    {},
    optional={
        "success": st.sampled_from([True, False, None, "true"]) | json_values,
        "error": st.fixed_dictionaries({}, optional={"code": json_values, "message": json_values}) | json_values,
        "data": st.fixed_dictionaries(
            {},
            optional={
                "task_id": st.sampled_from(["vid_1", "other"]) | json_values,
                "status": words | json_values,
                "video_url": json_values,
                "output": st.fixed_dictionaries({}, optional={"resultUrls": json_values}) | json_values,
                "error_message": json_values,
                "failMsg": json_values,
                "error": json_values,
                "credits_used": json_values,
                "credits_refunded": json_values,
            },
        )
        | json_values,
    },
)


@settings(max_examples=400, deadline=None)
@given(body=status_bodies | json_values)
def test_status_parser_returns_a_status_or_a_provider_error(body: object) -> None:
    try:
        status = parse_status_body(body, task_id="vid_1")
    except ProviderError:
        return
    assert isinstance(status, TaskStatus) and isinstance(status.state, TaskState)
    assert all(url.startswith(("http://", "https://")) for url in status.video_urls)
    if status.state is TaskState.SUCCEEDED:
        assert status.video_urls
    for figure in (status.charged_credits, status.refunded_credits):
        assert figure is None or 0 <= figure <= MAX_CREDITS  # storable on both backends


@pytest.mark.parametrize("figure", [2**31, 10**12, 10**30])
def test_a_credit_figure_no_account_could_be_charged_is_treated_as_not_said(figure: int) -> None:
    # Stored in a 32-bit column on PostgreSQL (and SQLite's 64-bit one overflows on 10**30): a
    # malformed figure must not make the job's transition fail forever.
    status = parse_status_body(
        task_body(status="failed", credits_used=figure, credits_refunded=figure), task_id="vid_1"
    )
    assert (status.charged_credits, status.refunded_credits) == (None, None)
