"""The harness itself: a ``[postgresql]`` end-to-end test really runs the bot on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.backends import Backend
from tests.services.rig import open_rig


async def test_the_world_and_the_rig_use_the_backend_in_the_test_id(
    world_factory: Any, tmp_path: Path, backend: Backend
) -> None:
    async with world_factory() as world:
        assert world.bot.db is not None and world.bot.db.backend == backend.name
        await world.video(world.alice)
        assert len(await world.jobs(world.alice)) == 1
    async with open_rig(tmp_path / "rig") as rig:
        assert rig.db.backend == backend.name
