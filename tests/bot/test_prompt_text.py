"""A prompt that is not valid text is refused at once with what to change; nothing is charged."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(
    ("prompt", "says"),
    [
        ("a cat on a roof \ud83d at night", "a broken character"),
        ("a cat\x00 on a roof", "a NUL character"),
    ],
)
async def test_a_prompt_that_is_not_valid_text_is_refused_clearly(world_factory: Any, prompt: str, says: str) -> None:
    async with world_factory("apimall") as world:
        refused = await world.video(world.alice, prompt=prompt)

        assert refused.ephemeral
        text = refused.response.content
        assert says in text and "Nothing was charged" in text and "something went wrong" not in text
        assert await world.jobs(world.alice) == []
        assert world.server.requests_to("generate") == []
        assert (await world.balance(world.alice)).available == 500


@pytest.mark.parametrize(
    "prompt",
    [
        "a go\u034fre scene",  # combining grapheme joiner inside the word
        "a go\ufe0fre scene",  # variation selector
        "a \u0262\u1d0f\u0280\u1d07 scene",  # small capitals: ɢᴏʀᴇ
        "a g\u0336o\u0336r\u0336e\u0336 scene",  # combining strikethrough: g̶o̶r̶e̶
        "a g\u043ere scene",  # Cyrillic о
        "a GO\u200bRE scene",  # zero-width space, upper case
    ],
)
async def test_a_blocked_word_is_seen_through_invisible_and_look_alike_characters(
    world_factory: Any, prompt: str
) -> None:
    async with world_factory("apimall") as world:
        added = await world.mod.slash(world.channel, "wan-mod rules add", kind="word", value="gore")
        assert "Added rule #1" in added.response.content

        refused = await world.video(world.alice, prompt=prompt)

        assert refused.ephemeral and "a word this server has blocked" in refused.response.content
        assert await world.jobs(world.alice) == []
        assert world.server.requests_to("generate") == []
        tested = await world.mod.slash(world.channel, "wan-mod rules test", prompt=prompt)
        assert "Refused by rule #1" in tested.response.content


async def test_look_alike_folding_does_not_refuse_ordinary_prompts(world_factory: Any) -> None:
    async with world_factory() as world:
        await world.mod.slash(world.channel, "wan-mod rules add", kind="word", value="gore")
        accepted = await world.video(world.alice, prompt="a gorgeous gorge at the café, ungored and gory-free")
        assert "accepted" in accepted.response.content
