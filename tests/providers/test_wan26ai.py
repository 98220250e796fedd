"""The wan26ai adapter against a loopback fake of its API, plus the shared HTTP helpers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.domain.models import Mode, VideoSpec
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
from bot.providers.http import (
    MAX_CREDITS,
    MAX_RETRY_AFTER_SECONDS,
    SUCCESS_WITHOUT_VIDEO,
    parse_retry_after,
    redact,
)
from bot.providers.wan26ai import Wan26aiProvider, parse_status_body
from tests.fakes import ManualClock
from tests.fakes.wan26ai_server import FakeWan26ai
from tests.providers.conftest import closed_port_url

API_KEY = "wan-secret-KEY-0123456789abcdef"
IMAGE = "https://cdn.example.com/cat.png"
VIDEO = "https://cdn.example.com/clip.mp4"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def server(clock: ManualClock) -> AsyncIterator[FakeWan26ai]:
    async with FakeWan26ai(api_key=API_KEY, clock=clock, render_seconds=60) as fake:
        yield fake


def make_provider(
    session: aiohttp.ClientSession,
    base_url: str,
    *,
    api_key: str = API_KEY,
    timeout: float = 2.0,
    log_bodies: bool = False,
) -> Wan26aiProvider:
    return Wan26aiProvider(
        session, base_url=base_url, api_key=SecretStr(api_key), timeout=timeout, log_bodies=log_bodies
    )


@pytest.fixture
def provider(session: aiohttp.ClientSession, server: FakeWan26ai) -> Wan26aiProvider:
    return make_provider(session, server.base_url)


def submit_request(
    mode: Mode = Mode.TEXT_TO_VIDEO,
    *,
    duration: Any = 5,
    resolution: Any = "720p",
    callback_url: str | None = None,
    public: bool = False,
) -> SubmitRequest:
    spec = VideoSpec(
        mode=mode,
        prompt="a cat surfing a wave",
        duration=duration,
        resolution=resolution,
        image_url=IMAGE if mode is Mode.IMAGE_TO_VIDEO else None,
        video_url=VIDEO if mode is Mode.VIDEO_TO_VIDEO else None,
    )
    return SubmitRequest(spec=spec, idempotency_key="job-1", callback_url=callback_url, public=public)


# --- submit --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "duration", "resolution", "expected"),
    [
        (
            Mode.TEXT_TO_VIDEO,
            15,
            "1080p",
            {"model": "wan/2-6-text-to-video", "duration": "15", "resolution": "1080p"},
        ),
        (
            Mode.IMAGE_TO_VIDEO,
            10,
            "720p",
            {"model": "wan/2-6-image-to-video", "duration": "10", "resolution": "720p", "image_urls": [IMAGE]},
        ),
        (
            Mode.VIDEO_TO_VIDEO,
            5,
            "720p",
            {"model": "wan/2-6-video-to-video", "duration": "5", "resolution": "720p", "video_urls": [VIDEO]},
        ),
    ],
)
async def test_submit_sends_the_documented_body(
    provider: Wan26aiProvider, server: FakeWan26ai, mode: Mode, duration: int, resolution: str, expected: dict[str, Any]
) -> None:
    result = await provider.submit(submit_request(mode, duration=duration, resolution=resolution))

    assert result.task_id in server.tasks
    [sent] = server.requests_to("generate")
    assert sent.method == "POST" and sent.path == "/api/generate"
    assert sent.json == {**expected, "prompt": "a cat surfing a wave", "public": False}
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"


async def test_submit_sends_callback_url_and_public_only_as_given(
    provider: Wan26aiProvider, server: FakeWan26ai
) -> None:
    await provider.submit(submit_request(callback_url="https://bot.example/cb", public=True))

    [sent] = server.requests_to("generate")
    assert sent.json["callback_url"] == "https://bot.example/cb"
    assert sent.json["public"] is True
    assert server.tasks[next(iter(server.tasks))].callback_url == "https://bot.example/cb"


# --- status --------------------------------------------------------------------------------


async def test_status_runs_then_succeeds_with_the_video_url(
    provider: Wan26aiProvider, server: FakeWan26ai, clock: ManualClock
) -> None:
    task_id = (await provider.submit(submit_request())).task_id

    running = await provider.status(task_id)
    assert running.state is TaskState.RUNNING and running.raw_status == "IN_PROGRESS"

    clock.advance(60)
    done = await provider.status(task_id)
    assert done.state is TaskState.SUCCEEDED
    assert done.video_urls == (server.file_url(task_id),)
    assert done.charged_credits == 80
    assert server.requests_to("status")[-1].query == {"task_id": task_id}


async def test_failed_render_is_failed_and_refunded(provider: Wan26aiProvider, server: FakeWan26ai) -> None:
    task_id = (await provider.submit(submit_request())).task_id
    server.fail(task_id, "GPU worker crashed")

    status = await provider.status(task_id)

    assert status.state is TaskState.FAILED
    assert status.error_message == "GPU worker crashed"
    assert status.charged_credits == 0


@pytest.mark.parametrize(
    "message",
    ["Content moderation rejected the prompt", "NSFW content detected", "Prompt violates our usage policy"],
)
async def test_moderation_failure_is_refused(provider: Wan26aiProvider, server: FakeWan26ai, message: str) -> None:
    task_id = (await provider.submit(submit_request())).task_id
    server.fail(task_id, message)

    assert (await provider.status(task_id)).state is TaskState.REFUSED


@pytest.mark.parametrize(
    ("word", "state"),
    [("PENDING", TaskState.QUEUED), ("queued", TaskState.QUEUED), ("BAKING", TaskState.UNKNOWN)],
)
async def test_status_words(provider: Wan26aiProvider, server: FakeWan26ai, word: str, state: TaskState) -> None:
    task_id = (await provider.submit(submit_request())).task_id
    server.set_raw_status(task_id, word)

    status = await provider.status(task_id)

    assert status.state is state and status.raw_status == word


@pytest.mark.parametrize(
    ("response", "urls"),
    [
        ("https://cdn.example.com/one.mp4", ("https://cdn.example.com/one.mp4",)),
        (["ftp://x/y.mp4", 7, "https://cdn.example.com/two.mp4"], ("https://cdn.example.com/two.mp4",)),
        ([], ()),
        (None, ()),
        (["file:///etc/passwd", "javascript:alert(1)"], ()),
    ],
)
async def test_success_urls_are_filtered(
    provider: Wan26aiProvider, server: FakeWan26ai, response: object, urls: tuple[str, ...]
) -> None:
    body = {"code": 200, "message": "success", "data": {"task_id": "t1", "status": "SUCCESS", "response": response}}
    server.inject("status", json=body)

    status = await provider.status("t1")

    if urls:
        assert status.state is TaskState.SUCCEEDED and status.video_urls == urls
    else:
        assert status.state is TaskState.FAILED and status.error_message == SUCCESS_WITHOUT_VIDEO


async def test_unknown_task_is_not_found(provider: Wan26aiProvider) -> None:
    with pytest.raises(TaskNotFound) as caught:
        await provider.status("no-such-task")
    assert caught.value.http_status == 404


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ProviderRejectedRequest),
        (401, ProviderAuthError),
        (402, ProviderOutOfCredits),
        (403, ProviderAuthError),
        (409, TransientProviderError),
        (451, ProviderRefused),
        (500, TransientProviderError),
        (502, AmbiguousSubmitError),  # a gateway gave up: the task may exist
        (503, TransientProviderError),
    ],
)
async def test_create_http_errors(
    provider: Wan26aiProvider, server: FakeWan26ai, status: int, error: type[ProviderError]
) -> None:
    server.inject("generate", status=status)

    with pytest.raises(error) as caught:
        await provider.submit(submit_request())

    assert type(caught.value) is error
    assert caught.value.http_status == status
    assert len(server.requests_to("generate")) == 1  # one request, no retry
    assert not server.tasks


async def test_429_carries_retry_after(provider: Wan26aiProvider, server: FakeWan26ai) -> None:
    server.inject("generate", status=429, retry_after=3)
    server.inject("status", status=429, retry_after=7)

    with pytest.raises(TransientProviderError) as on_create:
        await provider.submit(submit_request())
    with pytest.raises(TransientProviderError) as on_status:
        await provider.status("t1")

    assert on_create.value.retry_after == 3 and not isinstance(on_create.value, AmbiguousSubmitError)
    assert on_status.value.retry_after == 7


@pytest.mark.parametrize(("status", "error"), [(500, TransientProviderError), (503, TransientProviderError)])
async def test_status_http_errors(
    provider: Wan26aiProvider, server: FakeWan26ai, status: int, error: type[ProviderError]
) -> None:
    server.inject("status", status=status)

    with pytest.raises(error) as caught:
        await provider.status("t1")
    assert type(caught.value) is error


async def test_wrong_key_is_an_auth_error(session: aiohttp.ClientSession, server: FakeWan26ai) -> None:
    provider = make_provider(session, server.base_url, api_key="wrong")

    with pytest.raises(ProviderAuthError):
        await provider.submit(submit_request())
    with pytest.raises(ProviderAuthError):
        await provider.verify_key()
    assert not server.tasks


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (402, ProviderOutOfCredits),
        ("401", ProviderAuthError),
        (500, TransientProviderError),
        (400, ProviderRejectedRequest),
    ],
)
async def test_http_200_with_error_code_in_body_on_create(
    provider: Wan26aiProvider, server: FakeWan26ai, code: int | str, error: type[ProviderError]
) -> None:
    server.inject("generate", error_code=code, error_message="nope")

    with pytest.raises(error) as caught:
        await provider.submit(submit_request())
    assert type(caught.value) is error


@pytest.mark.parametrize(("code", "error"), [(404, TaskNotFound), (429, TransientProviderError)])
async def test_http_200_with_error_code_in_body_on_status(
    provider: Wan26aiProvider, server: FakeWan26ai, code: int, error: type[ProviderError]
) -> None:
    server.inject("status", error_code=code)

    with pytest.raises(error):
        await provider.status("t1")


async def test_fake_can_answer_every_error_as_http_200(session: aiohttp.ClientSession, clock: ManualClock) -> None:
    async with FakeWan26ai(api_key=API_KEY, clock=clock, credits=0, errors_in_http_200=True) as fake:
        provider = make_provider(session, fake.base_url)
        with pytest.raises(ProviderOutOfCredits):
            await provider.submit(submit_request())
        with pytest.raises(TaskNotFound):
            await provider.status("missing")


@pytest.mark.parametrize(
    "fault",
    [
        {"malformed": True},
        {"body": "<html>502 Bad Gateway</html>"},
        {"json": {"code": 200, "message": "success", "data": {}}},
        {"json": ["not", "an", "object"]},
    ],
)
async def test_unreadable_create_answer_is_ambiguous(
    provider: Wan26aiProvider, server: FakeWan26ai, fault: dict[str, Any]
) -> None:
    server.inject("generate", **fault)

    with pytest.raises(AmbiguousSubmitError):
        await provider.submit(submit_request())


@pytest.mark.parametrize("fault", [{"malformed": True}, {"body": "oops"}, {"json": {"code": 200, "data": "x"}}])
async def test_unreadable_status_answer_is_transient(
    provider: Wan26aiProvider, server: FakeWan26ai, fault: dict[str, Any]
) -> None:
    server.inject("status", **fault)

    with pytest.raises(TransientProviderError) as caught:
        await provider.status("t1")
    assert not isinstance(caught.value, AmbiguousSubmitError)


async def test_slow_create_is_ambiguous_and_slow_status_is_transient(
    session: aiohttp.ClientSession, server: FakeWan26ai
) -> None:
    provider = make_provider(session, server.base_url, timeout=0.2)
    server.inject("generate", delay=2)
    server.inject("status", delay=2)

    with pytest.raises(AmbiguousSubmitError, match="timed out"):
        await provider.submit(submit_request())
    with pytest.raises(TransientProviderError) as caught:
        await provider.status("t1")
    assert not isinstance(caught.value, AmbiguousSubmitError)


async def test_dropped_connection(provider: Wan26aiProvider, server: FakeWan26ai) -> None:
    server.inject("generate", drop=True)
    # aiohttp itself resends a GET once when the connection drops (RFC 9112 §9.3.1), so drop twice.
    server.inject("status", drop=True, times=2)

    with pytest.raises(AmbiguousSubmitError):
        await provider.submit(submit_request())
    assert len(server.tasks) == 1  # the fake made the task before hanging up: exactly the ambiguity
    with pytest.raises(TransientProviderError) as caught:
        await provider.status(next(iter(server.tasks)))
    assert not isinstance(caught.value, AmbiguousSubmitError)


async def test_connection_refused_is_plain_transient(session: aiohttp.ClientSession) -> None:
    provider = make_provider(session, closed_port_url())

    with pytest.raises(TransientProviderError) as caught:
        await provider.submit(submit_request())
    assert not isinstance(caught.value, AmbiguousSubmitError)
    with pytest.raises(TransientProviderError):
        await provider.verify_key()


# --- verify_key, info, secrets -------------------------------------------------------------


async def test_verify_key_accepts_any_real_answer_but_401_403(provider: Wan26aiProvider, server: FakeWan26ai) -> None:
    await provider.verify_key()  # the fake answers 404 for the made-up task
    server.inject("status", status=500)
    await provider.verify_key()
    server.inject("status", error_code=403)  # HTTP 200, code 403 in the body
    with pytest.raises(ProviderAuthError):
        await provider.verify_key()
    assert not server.tasks


def test_info_and_render_guess(provider: Wan26aiProvider) -> None:
    assert isinstance(provider, Provider)
    assert provider.info.name == "wan26ai"
    assert provider.info.idempotent_submit is False
    assert provider.info.supports_callbacks is True
    short = submit_request().spec
    long = submit_request(duration=15, resolution="1080p").spec
    assert provider.expected_render_seconds(short) == 60
    assert provider.expected_render_seconds(long) == 60 * 3 * 1.5


async def test_api_key_never_leaks(
    session: aiohttp.ClientSession, server: FakeWan26ai, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = make_provider(session, server.base_url, log_bodies=True)
    echo = f"bad key Bearer {API_KEY}"
    seen: list[object] = [provider]

    server.inject("generate", status=401, error_message=echo)
    server.inject("generate", error_code=402, error_message=echo)
    server.inject("generate", body=f"<html>{API_KEY}</html>")
    server.inject("generate", status=500, error_code=API_KEY)
    for _ in range(4):
        with pytest.raises(ProviderError) as caught:
            await provider.submit(submit_request())
        seen.append(caught.value)
    task_id = (await provider.submit(submit_request(callback_url=f"https://x/?k={API_KEY}"))).task_id
    server.fail(task_id, echo)
    seen.append(await provider.status(task_id))
    server.set_raw_status(task_id, API_KEY)
    seen.append(await provider.status(task_id))
    with pytest.raises(ProviderError) as caught:
        await make_provider(session, closed_port_url()).submit(submit_request())
    seen.append(caught.value)

    for item in seen:
        assert API_KEY not in str(item) and API_KEY not in repr(item)
    assert "Authorization" not in caplog.text
    assert API_KEY not in caplog.text
    assert "***" in caplog.text  # the echoed key was there, masked


# --- the fake's extras ---------------------------------------------------------------------


async def test_result_file_is_served(
    provider: Wan26aiProvider, server: FakeWan26ai, session: aiohttp.ClientSession
) -> None:
    server.file_size = 200_000
    task_id = (await provider.submit(submit_request())).task_id
    server.finish(task_id)
    [url] = (await provider.status(task_id)).video_urls

    async with session.get(url) as response:
        data = await response.read()
        assert response.headers["Content-Type"] == "video/mp4"
        assert response.headers["Content-Length"] == "200000"
    assert len(data) == 200_000 and data[4:8] == b"ftyp"


async def test_callbacks_are_posted_when_asked(server: FakeWan26ai, provider: Wan26aiProvider) -> None:
    received: list[Any] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/cb", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        task_id = (await provider.submit(submit_request(callback_url=f"http://127.0.0.1:{port}/cb"))).task_id
        assert await server.fire_callbacks() == 0  # not finished yet
        server.finish(task_id)
        assert await server.fire_callbacks() == 1
        assert await server.fire_callbacks() == 0  # once only
    finally:
        await runner.cleanup()
    assert received[0]["data"]["status"] == "SUCCESS"
    assert server.callbacks[0].status == 200

    server.send_callbacks = True  # now finishing a task posts by itself
    received.clear()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        port = runner.addresses[0][1]
        task_id = (await provider.submit(submit_request(callback_url=f"http://127.0.0.1:{port}/cb"))).task_id
        server.fail(task_id, "no GPU")
        await server.drain_callbacks()
    finally:
        await runner.cleanup()
    assert received[0]["data"]["status"] == "FAILED"
    assert received[0]["data"]["error_message"] == "no GPU"


# --- the parser never crashes --------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
status_bodies = st.fixed_dictionaries(
    {},
    optional={
        "code": st.sampled_from([200, 0, "200", 402, 404, 429, 500, -1, "x", None, True, 1e300]) | json_values,
        "message": json_values,
        "data": st.fixed_dictionaries(
            {},
            optional={
                "task_id": st.sampled_from(["t1", "other"]) | json_values,
                "status": st.sampled_from(["SUCCESS", "FAILED", "IN_PROGRESS", "PENDING", "²", ""]) | json_values,
                "response": json_values,
                "consumed_credits": json_values,
                "error_message": json_values,
            },
        )
        | json_values,
    },
)


@settings(max_examples=400, deadline=None)
@given(body=status_bodies | json_values)
def test_status_parser_returns_a_status_or_a_provider_error(body: object) -> None:
    try:
        status = parse_status_body(body, task_id="t1")
    except ProviderError:
        return
    assert isinstance(status, TaskStatus) and isinstance(status.state, TaskState)
    assert all(url.startswith(("http://", "https://")) for url in status.video_urls)
    if status.state is TaskState.SUCCEEDED:
        assert status.video_urls
    assert status.charged_credits is None or 0 <= status.charged_credits <= MAX_CREDITS  # storable on both backends


# --- shared helpers ------------------------------------------------------------------------


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("3") == 3
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("-4") == 0
    assert parse_retry_after("99999") == MAX_RETRY_AFTER_SECONDS
    assert parse_retry_after(format_datetime(now + timedelta(seconds=42), usegmt=True), now=now) == 42
    assert parse_retry_after(format_datetime(now - timedelta(seconds=42), usegmt=True), now=now) == 0
    for junk in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(junk) is None


def test_redact() -> None:
    assert redact("key=abc/def and abc%2Fdef", ["abc/def"]) == "key=*** and ***"
    assert redact("nothing here", ["", "zzz"]) == "nothing here"


def test_permanent_is_not_transient() -> None:
    # The job runner relies on the two families never overlapping.
    assert not issubclass(PermanentProviderError, TransientProviderError)


@pytest.mark.parametrize("figure", [2**31, 10**12, 10**30])
def test_a_credit_figure_no_account_could_be_charged_is_treated_as_not_said(figure: int) -> None:
    # Stored in a 32-bit column on PostgreSQL: a malformed figure must not break the job's transition.
    body = {"code": 200, "data": {"task_id": "t1", "status": "FAILED", "consumed_credits": figure}}
    assert parse_status_body(body, task_id="t1").charged_credits is None
