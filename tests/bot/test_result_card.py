"""The result card (Components V2): what SimCord stored is a message Discord accepts, it shows
the member's text as typed, keeps the nonce, and a message keeps its style after the operator
switches ``[delivery] result_style``. (The flows both styles share are parametrized in the other
end-to-end tests: video, failures, review, reports, restarts, crash lookups.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from simcord.components import COMPONENTS_V2_FLAG, walk_components
from simcord.http import router
from simcord.http.routes import messages as message_routes

from bot.config import ConfigError, config_from_mapping
from tests.bot.conftest import RELAXED, World, custom_id, shown


def stored(world: World, message: Any) -> Any:
    """The message as the simulated Discord holds it (wire format), after its validation."""
    return world.env.backend.messages[message.channel.id][message.id]


def restart_config(world: World, style: str) -> None:
    """The operator edits config.toml; the next start reads it."""
    delivery = world.config.delivery.model_copy(update={"result_style": style})
    world.config = world.config.model_copy(update={"delivery": delivery})


@pytest.fixture
def sent_bodies(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The JSON bodies of every message the bot creates (SimCord itself ignores the nonce)."""
    bodies: list[dict[str, Any]] = []
    original = message_routes.send_message

    def send_message(ctx: Any) -> Any:
        bodies.append(dict(ctx.body()))
        return original(ctx)

    routes = [
        (template, send_message if handler is original else handler) for template, handler in router._ROUTES["POST"]
    ]
    monkeypatch.setitem(router._ROUTES, "POST", routes)
    yield bodies


async def test_the_card_is_one_components_v2_message_with_the_video_first(world_factory: Any) -> None:
    async with world_factory() as world:
        await world.video(world.alice, prompt="a lighthouse in a storm, cinematic")
        await world.env.advance_time(30)
        [posted] = world.results()
        raw = stored(world, posted)
        assert raw.flags & COMPONENTS_V2_FLAG and raw.content == "" and raw.embeds == []
        parts = list(walk_components(raw.components))
        assert len(parts) <= 40
        [container] = raw.components
        kinds = [child["type"] for child in container["components"]]
        # head (ping) · gallery · title · prompt · separator · settings · footer · buttons
        assert kinds == [10, 12, 10, 10, 14, 10, 10, 1]
        [item] = container["components"][1]["items"]
        assert item["media"]["url"] == posted.attachments[0].url  # the upload, not a link elsewhere
        card = shown(posted)
        assert card.title == "Job #1 · Text → video" and card.url is None
        assert {f.name: f.value for f in card.fields}["Resolution"] == "720p"


async def test_member_markdown_is_shown_as_typed_and_pings_nobody_else(world_factory: Any) -> None:
    async with world_factory() as world:
        prompt = f"# **huge** _text_ ~~gone~~ `code` <@{world.bob.id}> @everyone"
        await world.video(world.alice, prompt=prompt)
        await world.env.advance_time(30)
        [posted] = world.results()
        card = shown(posted)
        assert (
            card.description == r"\# \*\*huge\*\* \_text\_ \~\~gone\~\~ \`code\` " + rf"\<\@{world.bob.id}\> \@everyone"
        )
        assert world.pings(posted) == ([world.alice.id], [], False)


async def test_the_longest_prompt_fits_the_cards_text_limit(world_factory: Any) -> None:
    async with world_factory() as world:
        await world.video(world.alice, prompt="*_" * 2500)  # 5,000 characters, each one escaped
        await world.env.advance_time(30)
        [posted] = world.results()  # SimCord refuses more than 4,000 characters of text in a message
        description = shown(posted).description or ""
        assert description.endswith("…") and len(description) <= 2 * 300


async def test_the_card_keeps_the_nonce_that_stops_a_double_post(
    world_factory: Any, sent_bodies: list[dict[str, Any]]
) -> None:
    async with world_factory() as world:
        await world.video(world.alice)
        await world.env.advance_time(30)
        [posted] = world.results()
        [body] = [b for b in sent_bodies if b.get("nonce") == "wan-result-1"]
        assert body["enforce_nonce"] is True and body["flags"] & COMPONENTS_V2_FLAG
        assert not body.get("content") and not body.get("embeds")
        assert posted.id == (await world.jobs(world.alice))[0].result_message_id


async def test_a_review_card_is_decided_as_a_card_after_the_switch_to_classic(world_factory: Any) -> None:
    async with world_factory(**RELAXED) as world:
        review = world.guild.create_text_channel("review")
        await world.admin.slash(world.channel, "wan-admin review on", channel=review)
        await world.video(world.alice)
        await world.env.advance_time(30)
        [pending] = [m for m in review.history(viewer=world.mod) if shown(m).buttons]
        assert shown(pending).card

        restart_config(world, "classic")
        await world.restart()
        approved = await world.mod.click(pending, custom_id=custom_id(pending, "wan:approve:"))
        assert "Approved job" in approved.response.content

        [decided] = [m for m in review.history(viewer=world.mod) if not m.flags.ephemeral]
        assert shown(decided).card and "Approved" in shown(decided).content and not shown(decided).buttons
        [posted] = world.results()  # new messages follow the new setting
        assert not shown(posted).card and posted.content.startswith(f"<@{world.alice.id}>, your video is ready.")
        assert world.pings(posted) == ([world.alice.id], [], False)


async def test_a_classic_result_still_works_after_the_switch_to_cards(world_factory: Any) -> None:
    async with world_factory(result_style="classic", **RELAXED) as world:
        mods = world.guild.create_text_channel("mods")
        await world.admin.slash(world.channel, "wan-admin mod-channel", channel=mods)
        await world.video(world.alice)
        await world.env.advance_time(30)
        [old] = world.results()
        assert not shown(old).card

        restart_config(world, "card")
        await world.restart()
        reroll = await world.bob.click(old, custom_id=custom_id(old, "wan:reroll:"))
        assert "Job **#2** accepted" in reroll.response.content
        await world.bob.click(old, custom_id=custom_id(old, "wan:report:"))
        [notice] = [m for m in mods.history(viewer=world.mod) if not m.flags.ephemeral]
        assert shown(notice).card and "reported by **1 member**" in shown(notice).content
        await world.env.advance_time(30)
        new = world.results()[-1]
        assert shown(new).card and shown(new).description == "a lighthouse in a storm, cinematic"


def test_an_unknown_result_style_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError) as refused:
        config_from_mapping({"delivery": {"result_style": "fancy"}}, environ={})
    assert "delivery.result_style" in str(refused.value) and "card" in str(refused.value)
