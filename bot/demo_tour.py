"""``python -m bot demo --screenshots DIR``: a scripted tour of the real bot on the simulated server,
one PNG per step taken with SimCord's ``preview.screenshot()`` (the README's pictures in docs/).

Each step is captured as the person who would see it (the member, the moderator, the admin). A
capture that is not ready and complete (a font, a video frame or an image missing) fails the tour
instead of writing a misleading picture.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord

from bot.demo_browser import launch_chromium, missing_screenshots
from bot.demo_world import RENDER_SECONDS, DemoWorld, demo_bot, populate
from bot.ui.channels import custom_ids
from bot.ui.custom_ids import parse_job_action

Write = Callable[[str], None]

PROMPT = "A golden retriever running through a sunlit meadow, slow motion, cinematic"
REVIEW_PROMPT = "A paper boat drifting down a rainy street, macro lens"
# Wide enough for the result embed and its video, tall enough that nothing is cut.
VIEWPORT = (900, 1000)
# One frame into the sandbox clip, so the posted video shows a picture rather than a black first frame.
MEDIA_TIME = 1.0

STEPS = (
    "01-private-answer",
    "02-progress",
    "03-result",
    "04-review",
    "05-credits",
    "06-admin-stats",
)


@dataclass(frozen=True)
class Shot:
    name: str
    path: Path
    width: int
    height: int
    ready: bool
    complete: bool


class TourError(Exception):
    pass


@asynccontextmanager
async def _session(world: DemoWorld, channel: Any, viewers: list[Any]) -> AsyncIterator[Any]:
    """One preview of ``channel`` whose screenshots use Debian's Chromium (SimCord would otherwise
    launch Playwright's own browser build, which cannot be downloaded here)."""
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    try:
        browser = await launch_chromium(playwright)
    except BaseException:
        await playwright.stop()
        raise
    preview = world.env.preview(
        channel, viewers=viewers, layout="message", width=VIEWPORT[0], height=VIEWPORT[1], port=0
    )
    async with preview:
        # The capture manager closes both when the preview closes.
        preview._capture_manager._playwright = playwright
        preview._capture_manager._browser = browser
        yield preview


async def _shoot(preview: Any, folder: Path, name: str, *, viewer: Any, target: Any, out: Write) -> Shot:
    path = folder / f"{name}.png"
    # Republish first: relative times ("started 10 seconds ago") are shown as of the last publication.
    await preview.refresh()
    capture = await preview.screenshot(path, viewer=viewer, target=target, media_time=MEDIA_TIME)
    shot = Shot(name, path, capture.output_width, capture.output_height, capture.ready, capture.complete)
    state = ", ".join(word for word, ok in (("ready", shot.ready), ("complete", shot.complete)) if ok) or "not ready"
    out(f"  {path}  {shot.width}x{shot.height}  {state}")
    if not (shot.ready and shot.complete):
        raise TourError(f"{name} was captured {state}: see the diagnostics above")
    return shot


def _public(world: DemoWorld, channel: Any, button: str | None = None) -> list[discord.Message]:
    """What a bystander sees in ``channel``; optionally only messages with that job button (e.g. "reroll")."""
    seen = [m for m in channel.history(viewer=world.admin) if not m.flags.ephemeral]
    if button is None:
        return seen
    return [m for m in seen if any(_action(custom_id) == button for custom_id in custom_ids(m))]


def _action(custom_id: str) -> str | None:
    parsed = parse_job_action(custom_id)
    return parsed[0] if parsed else None


async def _tour(world: DemoWorld, folder: Path, out: Write) -> list[Shot]:
    env, member, moderator, admin = world.env, world.member, world.moderator, world.admin
    shots: list[Shot] = []
    async with _session(world, world.channel, world.people) as preview:
        answer = await member.slash(world.channel, "video", prompt=PROMPT, duration="5", resolution="720p")
        shots.append(await _shoot(preview, folder, STEPS[0], viewer=member, target=answer, out=out))
        await env.advance_time(RENDER_SECONDS / 2)
        progress = _public(world, world.channel)[-1]
        shots.append(await _shoot(preview, folder, STEPS[1], viewer=member, target=progress, out=out))
        await env.advance_time(RENDER_SECONDS)
        [result] = _public(world, world.channel, "reroll")
        shots.append(await _shoot(preview, folder, STEPS[2], viewer=member, target=result, out=out))

    turned_on: Any = await admin.slash(world.channel, "wan-admin review on", channel=world.review)
    if not turned_on.ephemeral or "Review mode is on" not in turned_on.response.content:
        raise TourError(f"review mode did not turn on: {turned_on.response.content}")
    await env.advance_time(30)  # the member's cooldown between jobs
    await member.slash(world.channel, "video", prompt=REVIEW_PROMPT)
    await env.advance_time(RENDER_SECONDS + 10)
    async with _session(world, world.review, [moderator]) as preview:
        [waiting] = _public(world, world.review, "approve")
        shots.append(await _shoot(preview, folder, STEPS[3], viewer=moderator, target=waiting, out=out))

    async with _session(world, world.channel, world.people) as preview:
        credits = await member.slash(world.channel, "credits")
        shots.append(await _shoot(preview, folder, STEPS[4], viewer=member, target=credits, out=out))
        stats = await admin.slash(world.channel, "wan-admin stats")
        shots.append(await _shoot(preview, folder, STEPS[5], viewer=admin, target=stats, out=out))
    return shots


async def take_tour(out: Write, folder: Path) -> int:
    problem = missing_screenshots()
    if problem:
        out(problem)
        return 2
    import simcord

    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    out(f"Tour of the real bot on a simulated server; one PNG per step into {folder}:")
    with tempfile.TemporaryDirectory(prefix="wanbot-tour-") as scratch:
        bot = demo_bot(Path(scratch))
        async with simcord.run(bot, strict_sync=False) as env:
            world = await populate(env, bot)
            try:
                shots = await _tour(world, folder, out)
            except (TourError, simcord.SetupError) as error:
                out(f"Tour stopped: {error}")
                return 1
            finally:
                await bot.close()
    out(f"{len(shots)} screenshots written, each ready and complete.")
    return 0
