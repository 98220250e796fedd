"""A full temporary disk while downloading a result: the provider's link is posted instead, and
the member is told the truth (no "missing permission"), and the delivery counts as one.

The kernel refuses the bot's writes past a file-size limit (``RLIMIT_FSIZE``) exactly where a
full disk would refuse them (EFBIG instead of ENOSPC, the same failed ``write``), so the test
needs no special filesystem. SQLite's small test files stay far below the limit."""

from __future__ import annotations

import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bot.domain.models import JobState
from tests.bot.conftest import shown

_LIMIT = 1_048_576  # 1 MiB on disk for anything the process writes from now on


@contextmanager
def disk_full_past(limit: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    # Without this the kernel kills the process (SIGXFSZ) instead of failing the write.
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


async def test_a_full_temporary_disk_posts_the_link_and_says_so(world_factory: Any) -> None:
    async with world_factory("apimall", server={"file_size": 3 * _LIMIT}) as world:
        await world.video(world.alice)
        with disk_full_past(_LIMIT):
            await world.env.advance_time(200)
        [posted] = world.results()
        assert posted.attachments == []
        result = shown(posted)
        assert "/files/" in result.content and "permission" not in result.content
        assert "upload limit" not in result.content  # the file was within the limit: that is not why
        assert result.url and "/files/" in result.url
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.DELIVERED
        assert (await world.balance(world.alice)).available == 420
        assert all("permission" not in m.content for m in world.public())
