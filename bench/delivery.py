"""Peak memory while the bot delivers a 100 MB result.

The real bot on SimCord against the loopback apimall fake, whose result file is 100 MB
(10^8 bytes). The server is set to boost tier 3 (a 100 MiB upload limit), so the bot takes
its upload path: it streams the download to a temporary file in 64 KiB chunks
(``bot/services/fetch.py``), then hands discord.py a ``discord.File`` on that path.

One adjustment to the *simulated* Discord, not the bot: SimCord reads an upload with
``file.fp.read()``, the whole body at once, where discord.py's real HTTP client gives the
file object to aiohttp, which sends it in chunks. For this bench the simulated Discord reads
the upload in 64 KiB chunks too (counting the bytes), so the figure is the bot's memory and
not the simulator's.

Measured with tracemalloc from the job's submission to its delivery (Python allocations:
the download, the upload, everything else the bot did meanwhile), and the growth of the
process's resident set over the same stretch.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.common import API_KEY, Row, bench_world, current_rss_mb, emit
from tests.fakes.apimall_server import FakeApimall

RESULT_BYTES = 100_000_000
CHUNK = 64 * 1024


class StreamedUpload:
    """Stands in for an upload's file object inside the simulated Discord: consumed in chunks."""

    def __init__(self, source: Any, sink: dict[str, Any]) -> None:
        self.source = source
        self.sink = sink

    def read(self, size: int = -1) -> bytes:
        digest, total = hashlib.sha256(), 0
        while chunk := self.source.read(CHUNK):
            digest.update(chunk)
            total += len(chunk)
        self.sink["bytes"] = total
        return f"streamed {total} bytes sha256={digest.hexdigest()}".encode()

    def seek(self, *args: Any) -> int:
        return int(self.source.seek(*args))

    def tell(self) -> int:
        return int(self.source.tell())

    def close(self) -> None:
        return None


async def measure(database: Path) -> dict[str, Any]:
    holder: dict[str, Any] = {}

    def virtual_now() -> float:
        env = holder.get("env")
        return env.now().timestamp() if env is not None else 0.0

    server = FakeApimall(api_key=API_KEY, clock=virtual_now, render_seconds=40, file_size=RESULT_BYTES)
    await server.start()
    provider = {"kind": "apimall", "base_url": server.base_url, "api_key": API_KEY}
    uploaded: dict[str, Any] = {}
    result: dict[str, Any] = {}
    try:
        async with bench_world(database, members=1, provider=provider, settle_timeout=12) as world:
            holder["env"] = world.env
            world.bot.get_guild(world.guild.id).premium_tier = 3  # type: ignore[union-attr]
            http = world.bot.http
            original_request = http.request

            async def streaming_request(route: Any, *, files: Any = None, **kwargs: Any) -> Any:
                for file in files or ():
                    file.fp = StreamedUpload(file.fp, uploaded)
                return await original_request(route, files=files, **kwargs)

            http.request = streaming_request  # type: ignore[method-assign]
            await world.members[0].slash(world.channel, "video", prompt="a lighthouse in a storm")
            await world.env.advance_time(30)  # submitted, rendering
            tracemalloc.start()
            tracemalloc.reset_peak()
            rss_before = current_rss_mb()
            started = time.perf_counter()
            await world.env.advance_time(60)  # finishes at 40 s; the next check downloads and posts
            result["seconds"] = time.perf_counter() - started
            result["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1_048_576
            tracemalloc.stop()
            result["rss_growth_mb"] = current_rss_mb() - rss_before
            [job] = await world.bot.services.jobs.recent(world.guild.id, world.members[0].id)
            result["state"] = job.state.value
    finally:
        await server.stop()
    result["uploaded"] = uploaded.get("bytes", 0)
    result["downloaded"] = len(server.requests_to("files"))
    return result


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-delivery-", dir=Path.cwd()) as folder:
        r = asyncio.run(measure(Path(folder) / "wanbot.sqlite3"))
    assert r["state"] == "delivered" and r["uploaded"] == RESULT_BYTES, r
    rows = [
        Row(
            "memory",
            "peak while delivering a 100 MB result (tracemalloc)",
            f"{r['traced_peak_mb']:.1f} MB",
            "streamed, not held",
            f"download to a temp file + upload of {r['uploaded']:,} bytes, {r['seconds']:.1f} s with tracing on",
        ),
        Row(
            "memory",
            "resident set growth over the same delivery",
            f"{r['rss_growth_mb']:.1f} MB",
            "",
            "VmRSS after − before; page cache for the temp file is not counted",
        ),
    ]
    emit(rows)


if __name__ == "__main__":
    main()
