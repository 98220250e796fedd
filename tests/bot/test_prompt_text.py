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
