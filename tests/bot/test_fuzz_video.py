"""Hypothesis over every /video option, through SimCord and the real command path.

One simulated server serves all examples (starting the bot per example would cost more than
the examples). An example is played by a new member or by one of four regulars, whose credits
run low as their jobs stay held, so "not enough credits" is reached too. What any
input must lead to: an ephemeral answer, either "accepted" with exactly the price held, or a
refusal that charged nothing, created no job and raised nothing the error handler did not
expect (an unexpected error would show as the "something went wrong" apology).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest_asyncio
import simcord
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.app import WanBot
from bot.assemble import create_bot
from bot.domain.models import Balance, Job
from bot.errors import UserFacingError
from bot.services.credits import MemberContext
from tests.bot.conftest import make_config

ALLOWANCE = 300  # enough for most shapes, not for 1080p 15 s (325): "not enough credits" is fuzzed too
LIMIT_MB = 1  # small attachment limits so "too large" is cheap to reach

_names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
_suffixes = st.sampled_from([".png", ".jpg", ".gif", ".mp4", ".mov", ".webm", ".txt", ".exe", ""])
_sizes = st.sampled_from([0, 1, 1000, LIMIT_MB * 1_048_576, LIMIT_MB * 1_048_576 + 1])
attachments = st.one_of(
    st.none(),
    st.builds(
        lambda name, suffix, size: (name + suffix, b"\x89PNG" * (size // 4) + b"x" * (size % 4)),
        _names,
        _suffixes,
        _sizes,
    ),
)
urls = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.builds(
        lambda scheme, host, path: f"{scheme}{host}/{path}",
        st.sampled_from(["https://", "http://", "ftp://", "https://user:pw@", "", "HTTPS://"]),
        st.sampled_from(["cdn.example", "", "a b", "[::1]", "example.com:99999"]),
        st.text(max_size=40),
    ),
)
options = st.fixed_dictionaries(
    {"prompt": st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6000)},
    optional={
        "duration": st.sampled_from(["5", "10", "15"]),
        "resolution": st.sampled_from(["720p", "1080p"]),
        "image": attachments,
        "video": attachments,
        "image_url": urls,
        "video_url": urls,
    },
)


@dataclass
class Shared:
    env: simcord.Env
    bot: WanBot
    guild: Any
    channel: Any
    regulars: list[Any] = field(default_factory=list)

    async def balance(self, member: Any) -> Balance:
        return await self.bot.services.credits.balance(self.guild.id, MemberContext(member.id))

    async def jobs(self, member: Any) -> list[Job]:
        return await self.bot.services.jobs.recent(self.guild.id, member.id, 50)


@pytest_asyncio.fixture
async def shared(tmp_path: Path) -> AsyncIterator[Shared]:
    """Started by hand rather than with ``simcord.run``: pytest-asyncio sets a fixture up and
    tears it down in different contexts, so SimCord's clock scope is entered per example."""
    limits = {"max_image_mb": LIMIT_MB, "max_video_mb": LIMIT_MB}
    bot = create_bot(make_config(tmp_path, "sandbox", None, credits={"default_allowance": ALLOWANCE}, requests=limits))
    env = simcord.Env(bot)
    await env.start()
    try:
        with env.time_context():
            guild = env.create_guild(name="Fuzz")
            channel = guild.create_text_channel("videos")
            await bot.tree.sync()
        yield Shared(env, bot, guild, channel)
    finally:
        await bot.close()
        await env.shutdown()


_members = itertools.count()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chosen=options, regular=st.one_of(st.none(), st.integers(0, 3)))
async def test_any_video_options_are_accepted_and_held_or_refused_for_free(
    shared: Shared, chosen: dict[str, Any], regular: int | None
) -> None:
    with shared.env.time_context():
        if regular is None:
            member = shared.guild.add_member(shared.env.create_user(f"fuzz{next(_members)}"))
        else:
            while len(shared.regulars) <= regular:
                shared.regulars.append(
                    shared.guild.add_member(shared.env.create_user(f"regular{len(shared.regulars)}"))
                )
            member = shared.regulars[regular]
        await _one_example(shared, member, {key: value for key, value in chosen.items() if value is not None})


async def _one_example(world: Shared, member: Any, chosen: dict[str, Any]) -> None:
    before = await world.balance(member)
    jobs_before = await world.jobs(member)
    errors_before = len(world.env.errors)

    answer = await member.slash(world.channel, "video", **chosen)

    assert answer.ephemeral and answer.response is not None
    text = answer.response.content
    assert "something went wrong" not in text, text
    jobs = await world.jobs(member)
    after = await world.balance(member)
    new_errors = world.env.errors[errors_before:]
    # Refusals travel as UserFacingError to the one error handler; anything else is a bug.
    assert all(isinstance(_original(error), UserFacingError) for error in new_errors), new_errors
    event("accepted" if "accepted" in text else f"refused: {text.split()[0:3]}")
    if "accepted" in text:
        job = jobs[0]
        assert f"Job **#{job.id}** accepted" in text and len(jobs) == len(jobs_before) + 1
        assert (after.available, after.held) == (before.available - job.price, before.held + job.price)
    else:
        assert jobs == jobs_before and after == before, text
    world.env.errors.clear()


def _original(error: BaseException) -> BaseException:
    while getattr(error, "original", None) is not None or error.__cause__ is not None:
        error = getattr(error, "original", None) or error.__cause__  # type: ignore[assignment]
    return error
