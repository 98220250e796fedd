"""The browser demo's clock on its own (no browser): time passes, renders finish, and the page is
republished only when a message changed, so an idle page keeps its revision and its clicks stay valid."""

from __future__ import annotations

from pathlib import Path

import simcord

from bot.demo_clock import SerializedClock
from bot.demo_world import demo_bot, populate
from tests.bot.shown import shown


async def test_the_clock_finishes_a_render_and_republishes_only_on_change(needs_extra: None, tmp_path: Path) -> None:
    bot = demo_bot(tmp_path, render_seconds=10)
    async with simcord.run(bot, strict_sync=False) as env:
        world = await populate(env, bot)
        async with env.preview(world.channel, viewers=world.people, layout="channel", port=0) as preview:
            clock = SerializedClock(env, preview, speed=8, fingerprint=world.fingerprint, step_seconds=0.5)
            clock.install()
            # Nothing happens on an idle server: time passes, the page is left alone.
            assert [await clock.step() for _ in range(5)] == [False] * 5

            await world.member.slash(world.channel, "video", prompt="a kite over the sea at dawn")
            steps = [await clock.step() for _ in range(10)]  # 40 virtual seconds
            posted = [m for m in world.channel.history(viewer=world.admin) if "your video is ready" in shown(m).content]
            assert len(posted) == 1
            # The progress line and the result were republished, a few times, not at every step.
            assert 1 <= sum(steps) < len(steps)

            # Done: nothing changes any more, and neither does the page.
            assert [await clock.step() for _ in range(5)] == [False] * 5
            assert clock.failed_steps == 0
        await bot.close()
