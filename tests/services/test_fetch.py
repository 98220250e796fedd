"""The result downloader against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import socket
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.providers.sandbox import sandbox_video_path
from bot.services.fetch import (
    DEFAULT_FILENAME,
    FetchedFile,
    FetchError,
    FetchFailed,
    ResultFetcher,
    ResultTooLarge,
    safe_filename,
)

MiB = 1024 * 1024
# One MiB of fixed pseudo-random bytes; bodies are this pattern repeated, so any size can be checked.
PATTERN = random.Random(2026).randbytes(MiB)


def body_digest(size: int) -> str:
    digest = hashlib.sha256()
    view = memoryview(PATTERN)
    remaining = size
    while remaining:
        take = min(remaining, MiB)
        digest.update(view[:take])
        remaining -= take
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Server:
    base: str  # http://127.0.0.1:<port>
    hits: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def build_app(server: Server) -> web.Application:
    async def count(request: web.Request) -> None:
        server.hits.append(request.path_qs)

    async def body(request: web.Request) -> web.StreamResponse:
        """``/files/<name>?size=N&cl=0|1``: N bytes of the pattern in 64 KiB chunks, Content-Length if cl=1."""
        await count(request)
        size = int(request.query["size"])
        response = web.StreamResponse(headers={"Content-Type": "video/mp4; charset=binary"})
        if request.query.get("cl", "1") == "1":
            response.content_length = size
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        view = memoryview(PATTERN)
        sent = 0
        with contextlib.suppress(ConnectionError):
            while sent < size:
                take = min(64 * 1024, size - sent)
                offset = sent % MiB
                take = min(take, MiB - offset)
                await response.write(view[offset : offset + take])
                sent += take
            await response.write_eof()
        return response

    async def hang(request: web.Request) -> web.StreamResponse:
        """``/hang?when=headers|body``: stall before the headers, or after them (and 128 KiB if partial=1).

        Once ``release`` is set it finishes the body (1 KiB more) or, with abort=1, drops the connection.
        """
        await count(request)
        if request.query["when"] == "headers":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.release.wait(), 10)
            return web.Response(status=204)
        response = web.StreamResponse()
        if "cl" in request.query:
            response.content_length = int(request.query["cl"])
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            if request.query.get("partial") == "1":
                await response.write(PATTERN[: 128 * 1024])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.release.wait(), 10)
            if request.query.get("abort") == "1" and request.transport is not None:
                request.transport.close()  # the connection drops mid-body
            else:
                await response.write(PATTERN[:1024])
        return response

    async def status(request: web.Request) -> web.Response:
        await count(request)
        return web.Response(status=int(request.match_info["code"]), text="nope")

    async def redirect(request: web.Request) -> web.Response:
        await count(request)
        return web.Response(status=302, headers={"Location": request.query["to"]})

    async def loop(request: web.Request) -> web.Response:
        await count(request)
        return web.Response(status=307, headers={"Location": "/loop"})

    app = web.Application()
    app.router.add_get("/files/{name}", body)
    app.router.add_get("/hang", hang)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/loop", loop)
    return app


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(base="")
    test_server = TestServer(build_app(state), host="127.0.0.1")
    await test_server.start_server()
    state.base = f"http://127.0.0.1:{test_server.port}"
    yield state
    state.release.set()  # let stalled handlers finish so the server closes promptly
    await test_server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def fetcher(session: aiohttp.ClientSession) -> ResultFetcher:
    return ResultFetcher(session, allow_http=True, timeout_seconds=5)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "downloads"


def leftovers(dest: Path) -> list[Path]:
    return sorted(dest.iterdir()) if dest.exists() else []


async def wait_for_partial_file(dest: Path) -> None:
    for _ in range(200):
        if leftovers(dest):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the download never started writing")


# --- the happy path ------------------------------------------------------------------------------


@pytest.mark.parametrize("with_length", [True, False])
async def test_streams_the_body_to_a_file(
    fetcher: ResultFetcher, server: Server, dest: Path, with_length: bool
) -> None:
    size = 3 * MiB + 12345
    url = server.url(f"/files/clip%20one.mp4?size={size}&cl={int(with_length)}")

    got = await fetcher.fetch(url, max_bytes=10 * MiB, dest_dir=dest)

    assert isinstance(got, FetchedFile)
    assert got.size == size == got.path.stat().st_size
    assert file_digest(got.path) == body_digest(size)
    assert got.path.parent == dest
    assert got.filename == "clip_one.mp4"
    assert got.content_type == "video/mp4"
    assert leftovers(dest) == [got.path]


async def test_a_body_exactly_at_the_cap_is_fine(fetcher: ResultFetcher, server: Server, dest: Path) -> None:
    for with_length in (1, 0):
        got = await fetcher.fetch(server.url(f"/files/a.mp4?size={MiB}&cl={with_length}"), max_bytes=MiB, dest_dir=dest)
        assert got.size == MiB


async def test_two_fetches_of_the_same_name_get_separate_files(
    fetcher: ResultFetcher, server: Server, dest: Path
) -> None:
    url = server.url("/files/v.mp4?size=1000")
    first, second = await asyncio.gather(
        fetcher.fetch(url, max_bytes=MiB, dest_dir=dest), fetcher.fetch(url, max_bytes=MiB, dest_dir=dest)
    )
    assert first.path != second.path
    assert first.filename == second.filename == "v.mp4"


async def test_follows_redirects(fetcher: ResultFetcher, server: Server, dest: Path) -> None:
    got = await fetcher.fetch(server.url("/redirect?to=/files/final.mp4%3Fsize%3D5000"), max_bytes=MiB, dest_dir=dest)
    assert got.size == 5000
    assert got.filename == "redirect.mp4"  # named after the URL the provider gave, not the hop


async def test_large_download_never_sits_in_memory(fetcher: ResultFetcher, server: Server, dest: Path) -> None:
    size = 50 * MiB
    url = server.url(f"/files/big.mp4?size={size}&cl=0")
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        got = await fetcher.fetch(url, max_bytes=64 * MiB, dest_dir=dest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.size == size
    # Server and client share this process, so this bounds both; a buffered body would be 50 MiB.
    assert peak < 10 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"
    assert file_digest(got.path) == body_digest(size)


# --- size caps ---------------------------------------------------------------------------------


async def test_announced_size_over_cap_fails_without_reading(
    fetcher: ResultFetcher, server: Server, dest: Path
) -> None:
    # The server sends headers then stalls: reading even one body byte would hang until the timeout.
    started = time.monotonic()
    with pytest.raises(ResultTooLarge) as caught:
        await fetcher.fetch(server.url(f"/hang?when=body&cl={20 * MiB}"), max_bytes=MiB, dest_dir=dest)
    assert time.monotonic() - started < 2
    assert caught.value.size_hint == 20 * MiB
    assert caught.value.limit == MiB
    assert leftovers(dest) == []


async def test_announced_size_over_cap_with_a_real_body(fetcher: ResultFetcher, server: Server, dest: Path) -> None:
    with pytest.raises(ResultTooLarge) as caught:
        await fetcher.fetch(server.url(f"/files/a.mp4?size={3 * MiB}&cl=1"), max_bytes=MiB, dest_dir=dest)
    assert caught.value.size_hint == 3 * MiB
    assert leftovers(dest) == []


async def test_unannounced_body_over_cap_is_cut_and_deleted(fetcher: ResultFetcher, server: Server, dest: Path) -> None:
    with pytest.raises(ResultTooLarge) as caught:
        await fetcher.fetch(server.url(f"/files/a.mp4?size={8 * MiB}&cl=0"), max_bytes=MiB, dest_dir=dest)
    assert caught.value.size_hint is None
    assert isinstance(caught.value, FetchError)
    assert leftovers(dest) == []


# --- refusals before any request -------------------------------------------------------------------


async def test_plain_http_refused_unless_allowed(session: aiohttp.ClientSession, server: Server, dest: Path) -> None:
    strict = ResultFetcher(session, allow_http=False, timeout_seconds=5)
    with pytest.raises(FetchFailed) as caught:
        await strict.fetch(server.url("/files/a.mp4?size=10"), max_bytes=MiB, dest_dir=dest)
    assert not caught.value.transient
    assert server.hits == []


async def test_redirect_to_another_scheme_refused(fetcher: ResultFetcher, server: Server, dest: Path) -> None:
    # Every hop is checked with the same rules as the first URL.
    with pytest.raises(FetchFailed) as caught:
        await fetcher.fetch(server.url("/redirect?to=file:///etc/passwd"), max_bytes=MiB, dest_dir=dest)
    assert not caught.value.transient
    assert len(server.hits) == 1
    assert leftovers(dest) == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/a.mp4",
        "data:video/mp4;base64,AAAA",
        "javascript:alert(1)",
        "//127.0.0.1/a.mp4",
        "",
        "https:///no-host.mp4",
        "http://[::1/broken",
        "SANDBOX://sandbox.mp4",
    ],
)
async def test_other_schemes_refused(fetcher: ResultFetcher, dest: Path, url: str) -> None:
    with pytest.raises(FetchFailed) as caught:
        await fetcher.fetch(url, max_bytes=MiB, dest_dir=dest)
    assert not caught.value.transient
    assert leftovers(dest) == []


@pytest.mark.parametrize("userinfo", ["user:secret@", "user@", ":secret@"])
async def test_credentials_in_url_refused(fetcher: ResultFetcher, server: Server, dest: Path, userinfo: str) -> None:
    url = server.url("/files/a.mp4?size=10").replace("http://", f"http://{userinfo}")
    with pytest.raises(FetchFailed) as caught:
        await fetcher.fetch(url, max_bytes=MiB, dest_dir=dest)
    assert not caught.value.transient
    assert server.hits == []


async def test_redirect_with_credentials_refused(fetcher: ResultFetcher, server: Server, dest: Path) -> None:
    target = server.url("/files/a.mp4?size=10").replace("http://", "http://u:p@")
    with pytest.raises(FetchFailed):
        await fetcher.fetch(server.url(f"/redirect?to={target}"), max_bytes=MiB, dest_dir=dest)
    assert len(server.hits) == 1


async def test_redirect_loop_gives_up(fetcher: ResultFetcher, server: Server, dest: Path) -> None:
    with pytest.raises(FetchFailed) as caught:
        await fetcher.fetch(server.url("/loop"), max_bytes=MiB, dest_dir=dest)
    assert not caught.value.transient
    assert len(server.hits) == 6


# --- HTTP errors and timeouts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "transient"), [(404, False), (403, False), (410, False), (429, True), (500, True), (503, True)]
)
async def test_error_statuses(fetcher: ResultFetcher, server: Server, dest: Path, code: int, transient: bool) -> None:
    with pytest.raises(FetchFailed) as caught:
        await fetcher.fetch(server.url(f"/status/{code}"), max_bytes=MiB, dest_dir=dest)
    assert caught.value.transient is transient
    assert caught.value.http_status == code
    assert leftovers(dest) == []


@pytest.mark.parametrize("query", ["when=headers", "when=body&partial=1", f"when=body&partial=1&cl={MiB}"])
async def test_timeouts_are_transient_and_leave_no_file(
    session: aiohttp.ClientSession, server: Server, dest: Path, query: str
) -> None:
    impatient = ResultFetcher(session, allow_http=True, timeout_seconds=0.3)
    started = time.monotonic()
    with pytest.raises(FetchFailed) as caught:
        await impatient.fetch(server.url(f"/hang?{query}"), max_bytes=2 * MiB, dest_dir=dest)
    assert time.monotonic() - started < 2
    assert caught.value.transient
    assert "timed out" in caught.value.detail
    assert leftovers(dest) == []


async def test_connection_refused_is_transient(fetcher: ResultFetcher, dest: Path) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchFailed) as caught:
        await fetcher.fetch(f"http://127.0.0.1:{port}/a.mp4", max_bytes=MiB, dest_dir=dest)
    assert caught.value.transient


async def test_dropped_connection_is_transient_and_deleted(fetcher: ResultFetcher, server: Server, dest: Path) -> None:
    task = asyncio.create_task(
        fetcher.fetch(server.url(f"/hang?when=body&partial=1&abort=1&cl={MiB}"), max_bytes=2 * MiB, dest_dir=dest)
    )
    await wait_for_partial_file(dest)
    server.release.set()
    with pytest.raises(FetchFailed) as caught:
        await task
    assert caught.value.transient
    assert leftovers(dest) == []


async def test_cancellation_removes_the_partial_file(fetcher: ResultFetcher, server: Server, dest: Path) -> None:
    task = asyncio.create_task(fetcher.fetch(server.url("/hang?when=body&partial=1"), max_bytes=2 * MiB, dest_dir=dest))
    await wait_for_partial_file(dest)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert leftovers(dest) == []


# --- sandbox -----------------------------------------------------------------------------------------


async def test_sandbox_url_is_a_local_copy(dest: Path) -> None:
    # A session that is closed cannot make a request: the sandbox must not need one.
    closed = aiohttp.ClientSession()
    await closed.close()
    offline = ResultFetcher(closed, allow_http=False, timeout_seconds=5)

    got = await offline.fetch("sandbox://sandbox.mp4", max_bytes=10 * MiB, dest_dir=dest)

    asset = sandbox_video_path()
    assert got.path != asset
    assert got.path.parent == dest
    assert got.path.read_bytes() == asset.read_bytes()
    assert got.size == asset.stat().st_size
    assert (got.filename, got.content_type) == ("sandbox.mp4", "video/mp4")
    got.path.unlink()  # what every caller does; the packaged asset must survive it
    assert asset.exists()


async def test_sandbox_asset_respects_the_cap(fetcher: ResultFetcher, dest: Path) -> None:
    with pytest.raises(ResultTooLarge):
        await fetcher.fetch("sandbox://sandbox.mp4", max_bytes=100, dest_dir=dest)
    assert leftovers(dest) == []


@pytest.mark.parametrize("url", ["sandbox://other.mp4", "sandbox://../../etc/passwd", "sandbox://"])
async def test_unknown_sandbox_asset_refused(fetcher: ResultFetcher, dest: Path, url: str) -> None:
    with pytest.raises(FetchFailed) as caught:
        await fetcher.fetch(url, max_bytes=MiB, dest_dir=dest)
    assert not caught.value.transient


# --- filenames ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://cdn.example.com/out/abc123.mp4", "abc123.mp4"),
        ("https://cdn.example.com/out/ABC.MOV?sig=xyz", "ABC.mov"),
        ("https://cdn.example.com/out/clip.webm#frag", "clip.webm"),
        ("https://cdn.example.com/", DEFAULT_FILENAME),
        ("https://cdn.example.com", DEFAULT_FILENAME),
        ("https://cdn.example.com/download", "download.mp4"),
        ("https://cdn.example.com/a/..", DEFAULT_FILENAME),
        ("https://cdn.example.com/a/%2e%2e%2fetc%2fpasswd", "etc_passwd.mp4"),
        ("https://cdn.example.com/.hidden.mp4", "hidden.mp4"),
        ("https://cdn.example.com/r%C3%A9sum%C3%A9%20final.mp4", "r_sum_final.mp4"),
        ("https://cdn.example.com/video.exe", "video.exe.mp4"),
        ("https://cdn.example.com/" + "x" * 200 + ".mp4", "x" * 60 + ".mp4"),
        ("https://cdn.example.com/" + "y" * 200, "y" * 60 + ".mp4"),
        ("sandbox://sandbox.mp4", DEFAULT_FILENAME),
    ],
)
def test_safe_filename(url: str, expected: str) -> None:
    name = safe_filename(url)
    assert name == expected
    assert len(name) <= 64


async def test_bad_arguments_are_programming_errors(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError):
        ResultFetcher(session, allow_http=False, timeout_seconds=0)
