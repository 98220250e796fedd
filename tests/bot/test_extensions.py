"""Every extension loads, and every slash command the product promises is registered."""

from __future__ import annotations

from typing import Any

from bot.exts import EXTENSIONS


async def test_every_extension_loads_and_the_commands_exist(world_factory: Any) -> None:
    async with world_factory() as world:
        assert set(world.bot.extensions) == set(EXTENSIONS)
        names = {command.name for command in world.bot.tree.get_commands()}
        assert {"video", "credits", "jobs"} <= names
        video = world.bot.tree.get_command("video")
        options = [parameter.name for parameter in video.parameters]  # type: ignore[union-attr]
        assert options == ["prompt", "duration", "resolution", "image", "video", "image_url", "video_url"]
