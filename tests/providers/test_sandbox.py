"""The sandbox provider: stateless progress driven by the clock, hooks, and a real MP4."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.models import Mode, VideoSpec
from bot.providers.base import (
    Provider,
    ProviderRejectedRequest,
    SubmitRequest,
    TaskNotFound,
    TaskState,
)
from bot.providers.sandbox import (
    FAIL_MESSAGE,
    REFUSE_MESSAGE,
    SANDBOX_SCHEME,
    SandboxProvider,
    sandbox_video_path,
)

RENDER_SECONDS = 20.0


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def provider(clock: FakeClock) -> SandboxProvider:
    return SandboxProvider(clock=clock, render_seconds=RENDER_SECONDS)


def request(prompt: str = "a red fox in the snow", key: str = "job-1") -> SubmitRequest:
    spec = VideoSpec(mode=Mode.TEXT_TO_VIDEO, prompt=prompt, duration=5, resolution="720p")
    return SubmitRequest(spec=spec, idempotency_key=key)


def test_is_a_free_idempotent_sandbox_provider(provider: SandboxProvider) -> None:
    assert isinstance(provider, Provider)
    assert provider.info.name == "sandbox"
    assert provider.info.is_sandbox
    assert provider.info.idempotent_submit
    assert not provider.info.supports_callbacks
    assert provider.expected_render_seconds(request().spec) == RENDER_SECONDS


async def test_verify_key_always_succeeds(provider: SandboxProvider) -> None:
    await provider.verify_key()


async def test_progresses_queued_running_succeeded(provider: SandboxProvider, clock: FakeClock) -> None:
    task_id = (await provider.submit(request())).task_id

    assert (await provider.status(task_id)).state is TaskState.QUEUED
    clock.advance(RENDER_SECONDS * 0.1 - 0.01)
    assert (await provider.status(task_id)).state is TaskState.QUEUED
    clock.advance(0.02)
    assert (await provider.status(task_id)).state is TaskState.RUNNING
    clock.advance(RENDER_SECONDS * 0.9 - 0.1)
    assert (await provider.status(task_id)).state is TaskState.RUNNING
    clock.advance(0.1)

    done = await provider.status(task_id)
    assert done.state is TaskState.SUCCEEDED
    assert done.video_urls == (f"{SANDBOX_SCHEME}sandbox.mp4",)
    assert done.error_message is None
    assert done.charged_credits == 0
    clock.advance(3600)
    assert (await provider.status(task_id)).state is TaskState.SUCCEEDED


@pytest.mark.parametrize(
    ("prompt", "state", "message"),
    [
        ("a fox, sandbox:fail please", TaskState.FAILED, FAIL_MESSAGE),
        ("SANDBOX:REFUSE this", TaskState.REFUSED, REFUSE_MESSAGE),
        ("sandbox:fail and sandbox:refuse", TaskState.REFUSED, REFUSE_MESSAGE),
    ],
)
async def test_prompt_hooks_end_in_the_requested_failure(
    provider: SandboxProvider, clock: FakeClock, prompt: str, state: TaskState, message: str
) -> None:
    task_id = (await provider.submit(request(prompt))).task_id
    clock.advance(RENDER_SECONDS / 2)
    assert (await provider.status(task_id)).state is TaskState.RUNNING
    clock.advance(RENDER_SECONDS)

    final = await provider.status(task_id)
    assert final.state is state
    assert final.error_message == message
    assert final.video_urls == ()


async def test_same_idempotency_key_gives_same_task(provider: SandboxProvider, clock: FakeClock) -> None:
    first = await provider.submit(request(key="job-7"))
    clock.advance(5)
    again = await provider.submit(request(key="job-7"))
    other = await provider.submit(request(key="job-8"))
    assert again.task_id == first.task_id
    assert other.task_id != first.task_id


async def test_task_survives_a_restart(clock: FakeClock) -> None:
    before = SandboxProvider(clock=clock, render_seconds=RENDER_SECONDS)
    task_id = (await before.submit(request("sandbox:fail"))).task_id
    clock.advance(RENDER_SECONDS / 2)

    after = SandboxProvider(clock=clock, render_seconds=RENDER_SECONDS)  # a fresh process: no memory
    assert (await after.status(task_id)).state is TaskState.RUNNING
    clock.advance(RENDER_SECONDS)
    assert (await after.status(task_id)).state is TaskState.FAILED


async def test_zero_render_time_is_done_at_once(clock: FakeClock) -> None:
    provider = SandboxProvider(clock=clock, render_seconds=0)
    task_id = (await provider.submit(request())).task_id
    assert (await provider.status(task_id)).state is TaskState.SUCCEEDED


async def test_clock_stepping_backwards_reads_as_queued(provider: SandboxProvider, clock: FakeClock) -> None:
    task_id = (await provider.submit(request())).task_id
    clock.advance(-60)
    assert (await provider.status(task_id)).state is TaskState.QUEUED


@pytest.mark.parametrize(
    "task_id",
    ["", "sbx-", "abc", "sbx-1700000000000-s", "sbx-x-s-0123456789ab", "sbx-1700000000000-q-0123456789ab", "task-1"],
)
async def test_malformed_task_id_is_not_found(provider: SandboxProvider, task_id: str) -> None:
    with pytest.raises(TaskNotFound):
        await provider.status(task_id)


async def test_rejects_what_real_providers_reject(provider: SandboxProvider) -> None:
    spec = VideoSpec(
        mode=Mode.VIDEO_TO_VIDEO, prompt="x", duration=15, resolution="720p", video_url="https://example.com/a.mp4"
    )
    with pytest.raises(ProviderRejectedRequest):
        await provider.submit(SubmitRequest(spec=spec, idempotency_key="k"))


def test_packaged_asset_is_a_real_mp4() -> None:
    path = sandbox_video_path()
    data = path.read_bytes()
    assert len(data) > 1024
    # An MP4 starts with an ftyp box: 4-byte big-endian size, b"ftyp", then the major brand.
    box_size, box_type = struct.unpack(">I4s", data[:8])
    assert box_type == b"ftyp"
    assert 16 <= box_size <= 64
    assert b"moov" in data
    assert b"avc1" in data  # H.264 video track
