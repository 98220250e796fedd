"""Downloading finished videos: the only place the bot fetches a URL from its own network.

Callers hand in only the result URLs a provider returned (never a member's URL). Even so,
the URL is treated as untrusted: https only (plain http only when the configured provider
itself is http, as in local tests), no credentials in it, every redirect hop checked by the
same rules, a size cap enforced before and while reading, and an overall timeout. The body
is streamed to a file in chunks and never held in memory; on any error the partial file is
removed, so a caller only ever owns files it got back in a ``FetchedFile``.

``sandbox://sandbox.mp4`` (the sandbox provider's result) is answered from the packaged
asset with no network at all. It is *copied* into ``dest_dir`` like any download, so the
caller may delete every file it receives without harming the package.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
from yarl import URL

from bot.providers.sandbox import SANDBOX_SCHEME, SANDBOX_VIDEO_NAME, sandbox_video_path

CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 5
DEFAULT_FILENAME = "video.mp4"
MAX_FILENAME_CHARS = 64
VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".m4v", ".mkv")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class FetchError(Exception):
    """Base of everything ``ResultFetcher.fetch`` raises."""


class ResultTooLarge(FetchError):
    """The result is bigger than the caller's cap; post it as a link instead.

    ``size_hint`` is the size the server announced, or None when the body simply ran past the cap.
    """

    def __init__(self, size_hint: int | None, *, limit: int | None = None) -> None:
        self.size_hint = size_hint
        self.limit = limit
        size = f"{size_hint} bytes" if size_hint is not None else "more than the limit"
        cap = f" (limit {limit} bytes)" if limit is not None else ""
        super().__init__(f"result is too large: {size}{cap}")


class FetchFailed(FetchError):
    """The download did not work. ``transient`` says whether trying again later may help;
    ``local`` that the bot's own disk failed (full, read-only), not the provider's link."""

    def __init__(self, detail: str, transient: bool, *, http_status: int | None = None, local: bool = False) -> None:
        self.detail = detail
        self.transient = transient
        self.http_status = http_status
        self.local = local
        status = f"HTTP {http_status}: " if http_status is not None else ""
        super().__init__(f"{status}{detail}")


@dataclass(frozen=True, slots=True)
class FetchedFile:
    """A downloaded result. The caller owns ``path`` and deletes it when done."""

    path: Path
    size: int
    content_type: str | None
    filename: str  # safe name to show or upload under; ``path`` itself is unique in dest_dir


class ResultFetcher:
    def __init__(self, session: aiohttp.ClientSession, *, allow_http: bool, timeout_seconds: float) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._session = session
        self._allow_http = allow_http
        self._timeout_seconds = timeout_seconds

    async def fetch(self, url: str, *, max_bytes: int, dest_dir: Path) -> FetchedFile:
        """Download ``url`` into a new file in ``dest_dir``.

        Raises ``ResultTooLarge`` past ``max_bytes`` and ``FetchFailed`` for everything else.
        """
        if max_bytes < 0:
            raise ValueError("max_bytes cannot be negative")
        try:
            if url.startswith(SANDBOX_SCHEME):
                return await self._copy_sandbox_asset(url, max_bytes=max_bytes, dest_dir=dest_dir)
            self._check_url(url)
            filename = safe_filename(url)
            # One deadline for the whole download, redirects and body included.
            async with asyncio.timeout(self._timeout_seconds):
                return await self._download(url, max_bytes=max_bytes, dest_dir=dest_dir, filename=filename)
        # Order matters: TimeoutError and aiohttp's connection errors are OSErrors too.
        except TimeoutError:
            raise FetchFailed(f"download timed out after {self._timeout_seconds:g} s", transient=True) from None
        except aiohttp.ClientError as error:
            # Connection refused/reset, truncated bodies, bad chunked encoding: all may heal on retry.
            raise FetchFailed(f"download failed: {type(error).__name__}", transient=True) from None
        except OSError as error:
            # The local disk, not the provider: retrying the download will not help, a link still works.
            reason = error.strerror or type(error).__name__
            raise FetchFailed(f"could not save the download: {reason}", transient=False, local=True) from None

    # --- network ----------------------------------------------------------------------------

    async def _download(self, url: str, *, max_bytes: int, dest_dir: Path, filename: str) -> FetchedFile:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            async with self._session.get(
                _as_sent(current),
                allow_redirects=False,  # each hop is checked against the same rules below
                timeout=aiohttp.ClientTimeout(total=self._timeout_seconds),
            ) as response:
                if response.status in _REDIRECT_STATUSES:
                    location = response.headers.get(aiohttp.hdrs.LOCATION)
                    if not location:
                        raise FetchFailed("redirect without a Location", transient=False, http_status=response.status)
                    current = urljoin(current, location)
                    self._check_url(current)
                    continue
                _raise_for_status(response.status)
                announced = response.content_length
                if announced is not None and announced > max_bytes:
                    # Fail before reading a byte; closing drops the connection instead of draining it.
                    response.close()
                    raise ResultTooLarge(announced, limit=max_bytes)
                path, written = await _stream_to_file(
                    response, dest_dir=dest_dir, filename=filename, max_bytes=max_bytes
                )
                return FetchedFile(path=path, size=written, content_type=_mimetype(response), filename=filename)
        raise FetchFailed(f"more than {MAX_REDIRECTS} redirects", transient=False)

    def _check_url(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            has_credentials = parts.username is not None or parts.password is not None
            host = parts.hostname
            _ = parts.port  # raises ValueError on a malformed port
        except ValueError:
            raise FetchFailed("malformed result URL", transient=False) from None
        allowed = ("https", "http") if self._allow_http else ("https",)
        if parts.scheme not in allowed:
            raise FetchFailed(f"refusing a {parts.scheme or 'scheme-less'} result URL", transient=False)
        if has_credentials:
            raise FetchFailed("refusing a result URL with credentials in it", transient=False)
        if not host:
            raise FetchFailed("result URL has no host", transient=False)

    # --- sandbox ----------------------------------------------------------------------------

    async def _copy_sandbox_asset(self, url: str, *, max_bytes: int, dest_dir: Path) -> FetchedFile:
        if url[len(SANDBOX_SCHEME) :] != SANDBOX_VIDEO_NAME:
            raise FetchFailed("unknown sandbox asset", transient=False)
        filename = SANDBOX_VIDEO_NAME
        source = sandbox_video_path()
        size = source.stat().st_size
        if size > max_bytes:
            raise ResultTooLarge(size, limit=max_bytes)
        path = await asyncio.to_thread(_copy_into, source, dest_dir, filename)
        return FetchedFile(path=path, size=size, content_type="video/mp4", filename=filename)


def safe_filename(url: str) -> str:
    """A name for the file derived from the URL's last path segment, safe on any filesystem and in Discord.

    Only ``[A-Za-z0-9._-]``, at most 64 characters, always ending in a video extension.
    """
    try:
        raw_path = urlsplit(url).path
    except ValueError:
        return DEFAULT_FILENAME
    last = unquote(raw_path.rsplit("/", 1)[-1])
    name = _UNSAFE_CHARS.sub("_", last).strip("._-")  # no hidden files, no "..", no dangling separators
    if not name:
        return DEFAULT_FILENAME
    stem, dot, extension = name.rpartition(".")
    if dot and f".{extension.lower()}" in VIDEO_EXTENSIONS:
        stem, extension = stem, f".{extension.lower()}"
    else:
        stem, extension = name, ".mp4"
    stem = stem[: MAX_FILENAME_CHARS - len(extension)].rstrip("._-") or "video"
    return stem + extension


def _as_sent(url: str) -> URL:
    # An already-encoded URL goes out byte for byte: re-quoting can break a signed (presigned) URL.
    already_encoded = url.isascii() and not any(char.isspace() for char in url)
    return URL(url, encoded=already_encoded)


def _raise_for_status(status: int) -> None:
    if 200 <= status < 300:
        return
    # 408/429 and 5xx are the server's trouble and pass; other 4xx (gone, forbidden, expired link) will not.
    transient = status in (408, 429) or status >= 500
    raise FetchFailed("result URL answered with an error", transient=transient, http_status=status)


def _mimetype(response: aiohttp.ClientResponse) -> str | None:
    raw = response.headers.get(aiohttp.hdrs.CONTENT_TYPE)
    if not raw:
        return None
    return raw.split(";", 1)[0].strip().lower() or None


async def _stream_to_file(
    response: aiohttp.ClientResponse, *, dest_dir: Path, filename: str, max_bytes: int
) -> tuple[Path, int]:
    path, handle = await asyncio.to_thread(_create_unique, dest_dir, filename)
    written = 0
    try:
        async for chunk in response.content.iter_chunked(CHUNK_BYTES):
            written += len(chunk)
            if written > max_bytes:
                response.close()
                raise ResultTooLarge(None, limit=max_bytes)
            # Disk writes go to a thread so a slow disk never stalls the event loop.
            await asyncio.to_thread(handle.write, chunk)
        await asyncio.to_thread(handle.close)
    except BaseException:
        # Also on cancellation: nobody else knows this file exists.
        handle.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    return path, written


def _create_unique(dest_dir: Path, filename: str) -> tuple[Path, BinaryIO]:
    dest_dir.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix="result-", suffix=f"-{filename}", dir=dest_dir)
    return Path(name), os.fdopen(descriptor, "wb")


def _copy_into(source: Path, dest_dir: Path, filename: str) -> Path:
    path, handle = _create_unique(dest_dir, filename)
    try:
        with handle, source.open("rb") as reader:
            shutil.copyfileobj(reader, handle, CHUNK_BYTES)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    return path
