"""Text a member typed is shown as typed, never as the bot's own markup: no live masked links or
headers in the result, the review message or the moderators' notices, and a newline in a prompt
never leaves a quote. SimCord does not render markdown, so ``live_markup`` reads the text the way
Discord's parser does: a backslash before punctuation makes it literal."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.domain.markdown import code, escape, quote
from tests.bot.conftest import World, custom_id, shown

BAIT = "[discord.com/nitro](https://nitro.example/claim) free\n# CLAIM NOW\n-# official\n1. **click** <@1> @everyone"

_ESCAPED = re.compile(r"\\[!-/:-@\[-`{-~]")
_CONSTRUCTS = {
    "masked link": re.compile(r"\[[^\]]*\]\(\s*<?https?://"),
    "header": re.compile(r"(?m)^\s*#{1,3}\s"),
    "subtext": re.compile(r"(?m)^\s*-#\s"),
    "list": re.compile(r"(?m)^\s*(?:[-*+]|\d+\.)\s"),
    "bold": re.compile(r"\*\*[^*]+\*\*"),
    "mention": re.compile(r"<@|@everyone"),
}


def live_markup(text: str) -> set[str]:
    """Which of Discord's constructs ``text`` would render (escaped characters count as plain)."""
    plain = _ESCAPED.sub("x", text)
    return {name for name, pattern in _CONSTRUCTS.items() if pattern.search(plain)}


def texts_of(message: discord.Message) -> list[str]:
    """The head line first, then the title, the description and the fields, in either style."""
    seen = shown(message)
    return [seen.content, seen.title or "", seen.description or "", *(field.value for field in seen.fields)]


def test_the_helper_keeps_every_construct_literal() -> None:
    assert live_markup(BAIT) == set(_CONSTRUCTS)
    assert live_markup(escape(BAIT)) == set()
    quoted = quote(BAIT)
    assert all(line.startswith("> ") for line in quoted.splitlines()) and live_markup(quoted) == set()
    assert code("a`b") == "``a`b``" and code("`x`") == "`` `x` ``" and code("plain") == "`plain`"


async def post_bait(world: World, **sections: Any) -> None:
    accepted = await world.video(world.alice, prompt=BAIT)
    assert "accepted" in accepted.response.content
    await world.env.advance_time(60)


async def test_a_prompt_in_the_result_and_the_report_notice_is_shown_as_typed(world_factory: Any) -> None:
    async with world_factory() as world:
        mods = world.guild.create_text_channel("mods")
        await world.admin.slash(world.channel, "wan-admin mod-channel", channel=mods)
        await post_bait(world)
        [posted] = world.results()
        assert "nitro" in (shown(posted).description or "")
        head, *rest = texts_of(posted)
        assert live_markup(head) <= {"mention"}
        assert all(live_markup(text) == set() for text in rest)

        await world.bob.click(posted, custom_id=custom_id(posted, "wan:report:"))
        [notice] = [m for m in mods.history(viewer=world.bob) if not m.flags.ephemeral]
        assert "nitro" in (shown(notice).description or "")
        assert live_markup(shown(notice).description or "") == set()


async def test_a_provider_refusal_notice_keeps_the_whole_prompt_inside_its_quote(world_factory: Any) -> None:
    async with world_factory("apimall") as world:
        mods = world.guild.create_text_channel("mods")
        await world.admin.slash(world.channel, "wan-admin mod-channel", channel=mods)
        world.server.inject("generate", status=451, error_code="content_policy", error_message="blocked")
        await post_bait(world)

        [notice] = [m for m in mods.history(viewer=world.bob) if not m.flags.ephemeral]
        head, _, quoted = notice.content.partition("\n")
        assert "refused job #1" in head
        assert quoted and all(line.startswith("> ") for line in quoted.splitlines())
        assert live_markup(quoted) == set()


async def test_a_rejection_reason_and_the_prompt_in_the_rejection_are_shown_as_typed(world_factory: Any) -> None:
    async with world_factory() as world:
        review = world.guild.create_text_channel("review")
        await world.admin.slash(world.channel, "wan-admin review on", channel=review)
        await post_bait(world)
        [pending] = [m for m in review.history(viewer=world.bob) if not m.flags.ephemeral]
        assert live_markup(shown(pending).description or "") == set()

        modal = await world.mod.click(pending, custom_id=custom_id(pending, "wan:reject:"))
        field = next(iter(_inputs(modal.modal)))
        await world.mod.submit_modal(modal, {field: "see [the rules](https://rules.example) ## now"})

        [dm] = world.alice.user.dm_channel.history(viewer=world.alice)
        assert "the rules" in dm.content and live_markup(dm.content) == set()
        [decided] = [m for m in review.history(viewer=world.bob) if not m.flags.ephemeral]
        head = shown(decided).content
        assert "the rules" in head and "masked link" not in live_markup(head)


async def test_rule_values_and_history_show_as_typed(world_factory: Any) -> None:
    async with world_factory() as world:
        added = await world.mod.slash(world.channel, "wan-mod rules add", kind="pattern", value="free `nitro` [x](y)")
        assert "Added rule #1" in added.response.content
        listed = await world.mod.slash(world.channel, "wan-mod rules list")
        assert "nitro" in (listed.response.embeds[0].description or "")
        await post_bait(world)
        history = await world.mod.slash(world.channel, "wan-mod history", member=world.alice)
        description = history.response.embeds[0].description or ""
        # The history's own bold job number and member mention are the bot's; the prompt adds nothing.
        assert "nitro" in description and "CLAIM" in description
        assert live_markup(description) & {"masked link", "header", "subtext", "list"} == set()
        assert "\\*\\*click\\*\\*" in description


def _inputs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == 4 and "custom_id" in node:
            found.append(node["custom_id"])
        for value in node.values():
            found += _inputs(value)
    elif isinstance(node, list):
        for value in node:
            found += _inputs(value)
    return found
