"""While the bot stops (SIGTERM → close()), commands are refused in one private line, free."""

from __future__ import annotations

from typing import Any


async def test_commands_during_shutdown_are_refused_and_cost_nothing(world_factory: Any) -> None:
    async with world_factory() as world:
        before = await world.balance(world.alice)
        # What close() does first, before the job loop's last tick is awaited (which can take seconds).
        world.bot.stopping = True
        result = await world.video(world.alice)
        assert result.ephemeral
        assert result.response.content == "The bot is restarting. Try again in a minute; nothing was charged."
        assert await world.jobs(world.alice) == []
        assert (await world.balance(world.alice)).available == before.available
        assert world.public() == []
