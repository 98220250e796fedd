"""Text that comes from the provider is stored on both backends, even with NUL characters in it
(PostgreSQL text cannot hold NUL): a failed render is still released and its member told."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.models import LedgerKind
from tests.services.rig import open_rig, settled


@pytest.mark.parametrize("kind", ["apimall", "wan26ai"])
async def test_a_failure_message_with_nul_still_releases_the_job(tmp_path: Path, kind: str) -> None:
    async with open_rig(tmp_path, kind) as rig:
        job = await rig.accept(member_id=1)
        await rig.run(6)
        submitted = await rig.storage.job_repo.get(job.id)
        assert submitted is not None and submitted.provider_task_id
        rig.server.fail(submitted.provider_task_id, "GPU\x00 lost")
        await rig.run(120)
        ended = await rig.storage.job_repo.get(job.id)
        assert ended is not None and settled(ended), ended
        assert ended.state.is_released
        assert rig.events.told[job.id] == 1
        assert ended.error_message is not None and "\x00" not in ended.error_message  # U+FFFD instead
        kinds = [e.kind for e in await rig.storage.ledger.entries() if e.job_id == job.id]
        assert kinds == [LedgerKind.HOLD, LedgerKind.RELEASE]
        assert await rig.money_problems() == []
