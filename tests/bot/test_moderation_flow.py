"""Moderation end to end on SimCord: blocks, prompt rules, reports, removals, refunds, the log,
provider refusals, and the server-side permission check behind every moderation command."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from simcord.backend.errors import SetupError

from bot.domain.models import JobState, LedgerKind
from bot.domain.moderation import AuditAction
from tests.bot.conftest import RELAXED, STYLES, World, custom_id, shown


async def actions(world: World) -> list[AuditAction]:
    return [entry.action for entry in await world.storage.audit.entries(world.guild.id)]


async def delivered(world: World, member: Any = None, **video: Any) -> discord.Message:
    """Make one video and return its public result message."""
    before = len(world.results())
    await world.video(member or world.alice, **video)
    await world.env.advance_time(30)
    results = world.results()
    assert len(results) == before + 1
    return results[-1]


async def mod_channel(world: World) -> Any:
    channel = world.guild.create_text_channel("mods")
    result = await world.admin.slash(world.channel, "wan-admin mod-channel", channel=channel)
    assert "now go to" in result.response.content
    return channel


def notices(world: World, channel: Any) -> list[discord.Message]:
    return [m for m in channel.history(viewer=world.bob) if not m.flags.ephemeral]


# --- blocks ---------------------------------------------------------------------------------


async def test_a_blocked_member_is_refused_before_any_charge_or_provider_call(world_factory: Any) -> None:
    async with world_factory("apimall") as world:
        blocked = await world.mod.slash(world.channel, "wan-mod block", member=world.alice, reason="spam")
        assert blocked.ephemeral and "Blocked" in blocked.response.content

        refused = await world.video(world.alice)
        await world.env.advance_time(10)

        assert refused.ephemeral and "blocked you" in refused.response.content
        assert "spam" not in refused.response.content  # the moderator's note stays with the moderators
        assert await world.jobs(world.alice) == []
        assert await world.storage.ledger.entries(world.guild.id) == []  # not even a refill
        assert world.server.requests_to("generate") == []
        assert world.public() == []

        again = await world.mod.slash(world.channel, "wan-mod block", member=world.alice)
        assert "already blocked" in again.response.content
        unblocked = await world.mod.slash(world.channel, "wan-mod unblock", member=world.alice, reason="appealed")
        assert "Unblocked" in unblocked.response.content
        accepted = await world.video(world.alice)
        assert "accepted" in accepted.response.content

        log = await world.storage.audit.entries(world.guild.id)
        assert [(e.action, e.actor_id, e.target_member_id, e.reason) for e in log] == [
            (AuditAction.BLOCK, world.mod.id, world.alice.id, "spam"),
            (AuditAction.UNBLOCK, world.mod.id, world.alice.id, "appealed"),
        ]


# --- prompt rules ---------------------------------------------------------------------------


async def test_prompt_rules_refuse_by_class_without_echoing_the_rule(world_factory: Any) -> None:
    async with world_factory(moderation={"blocked_words": ["forbiddenword"]}, **RELAXED) as world:
        word = await world.mod.slash(world.channel, "wan-mod rules add", kind="word", value="Gore")
        assert "Added rule #1" in word.response.content
        pattern = await world.mod.slash(world.channel, "wan-mod rules add", kind="pattern", value=r"blood\s*bath")
        assert "Added rule #2" in pattern.response.content

        cases = {
            "a GORE fest at dawn": "a word this server has blocked",
            "a bloodbath on the beach": "a pattern this server has blocked",
            "the forbiddenword returns": "global block list",
        }
        for prompt, expected in cases.items():
            refused = await world.video(world.alice, prompt=prompt)
            text = refused.response.content
            assert refused.ephemeral and expected in text and "Nothing was charged" in text
            assert "gore" not in text.lower() and "blood" not in text and "forbiddenword" not in text
        # Whole words only: "gorgeous" and "gored"... are not "gore".
        assert "accepted" in (await world.video(world.alice, prompt="a gorgeous sunset")).response.content
        assert len(await world.jobs(world.alice)) == 1

        invalid = await world.mod.slash(world.channel, "wan-mod rules add", kind="pattern", value="(?<=x)y")
        assert invalid.ephemeral and "not a pattern I can use" in invalid.response.content
        everything = await world.mod.slash(world.channel, "wan-mod rules add", kind="pattern", value="a*")
        assert "matches empty text" in everything.response.content

        listed = await world.mod.slash(world.channel, "wan-mod rules list")
        assert "`gore`" in (listed.response.embeds[0].description or "")
        tested = await world.mod.slash(world.channel, "wan-mod rules test", prompt="gore")
        assert "rule #1" in tested.response.content
        removed = await world.mod.slash(world.channel, "wan-mod rules remove", rule=1, reason="too broad")
        assert "Removed rule #1" in removed.response.content
        assert "accepted" in (await world.video(world.alice, prompt="a gore fest")).response.content

        assert await actions(world) == [AuditAction.RULE_ADD, AuditAction.RULE_ADD, AuditAction.RULE_REMOVE]


# --- reports and removals -------------------------------------------------------------------


@pytest.mark.parametrize("result_style", STYLES)
async def test_reports_are_counted_once_per_member_on_one_notice_and_remove_deletes(
    world_factory: Any, result_style: str
) -> None:
    async with world_factory() as world:
        mods = await mod_channel(world)
        posted = await delivered(world)
        report = custom_id(posted, "wan:report:")

        first = await world.bob.click(posted, custom_id=report)
        assert first.ephemeral and "moderators will look" in first.response.content
        [notice] = notices(world, mods)
        assert "reported by **1 member**" in shown(notice).content and world.pings(notice) == ([], [], False)
        assert shown(notice).description == "a lighthouse in a storm, cinematic"
        assert shown(notice).fields[0].value == f"[Jump to the video]({posted.jump_url})"

        await world.admin.click(posted, custom_id=report)
        repeat = await world.bob.click(posted, custom_id=report)
        assert "already reported" in repeat.response.content
        [notice] = notices(world, mods)  # the same notice, edited; no second one
        assert "reported by **2 members**" in shown(notice).content

        # The notice's buttons check the clicker too: a member who can see the channel cannot use them.
        sneaky = await world.bob.click(notice, custom_id=custom_id(notice, "wan:report-remove:"))
        assert sneaky.ephemeral and "Only moderators" in sneaky.response.content
        assert len(world.results()) == 1

        removed = await world.mod.click(notice, custom_id=custom_id(notice, "wan:report-remove:"))
        assert "Removed the video of job #1" in removed.response.content
        assert world.results() == []
        [notice] = notices(world, mods)
        assert "video removed" in shown(notice).content and not shown(notice).buttons

        history = await world.mod.slash(world.channel, "wan-mod history", member=world.alice)
        text = history.response.embeds[0].description or ""
        assert f"removed by <@{world.mod.id}>" in text and "reported by 2" in text
        [entry] = [e for e in await world.storage.audit.entries(world.guild.id) if e.action is AuditAction.REMOVE]
        assert (entry.actor_id, entry.target_member_id, entry.job_id) == (world.mod.id, world.alice.id, 1)


@pytest.mark.parametrize("result_style", STYLES)
async def test_dismiss_closes_the_notice_and_a_new_report_opens_a_new_one(
    world_factory: Any, result_style: str
) -> None:
    async with world_factory() as world:
        mods = await mod_channel(world)
        posted = await delivered(world)
        await world.bob.click(posted, custom_id=custom_id(posted, "wan:report:"))
        [notice] = notices(world, mods)

        await world.mod.click(notice, custom_id=custom_id(notice, "wan:report-dismiss:"))
        [closed] = notices(world, mods)
        assert "dismissed" in shown(closed).content and not shown(closed).buttons
        assert len(world.results()) == 1  # still there

        await world.admin.click(posted, custom_id=custom_id(posted, "wan:report:"))
        assert len(notices(world, mods)) == 2
        assert AuditAction.DISMISS_REPORT in await actions(world)


@pytest.mark.parametrize("result_style", STYLES)
async def test_remove_video_menu_and_the_owners_delete_are_both_recorded(world_factory: Any, result_style: str) -> None:
    async with world_factory() as world:
        first = await delivered(world)
        second = await delivered(world, prompt="a second video")

        shown = await world.mod.context_menu(world.channel, "Remove video", first)
        assert shown.modal is not None
        [field] = [c["custom_id"] for row in shown.modal["components"] for c in row["components"]]
        done = await world.mod.submit_modal(shown, {field: "breaks rule 3"})
        assert "Removed the video of job #1" in done.response.content

        deleted = await world.alice.click(second, custom_id=custom_id(second, "wan:delete:"))
        assert deleted.ephemeral and "Deleted" in deleted.response.content
        assert world.results() == []

        not_a_result = await world.alice.send(world.channel, "hello")
        refused = await world.mod.context_menu(world.channel, "Remove video", not_a_result)
        assert refused.ephemeral and "not a video posted by this bot" in refused.response.content

        log = [e for e in await world.storage.audit.entries(world.guild.id) if e.action is AuditAction.REMOVE]
        assert [(e.job_id, e.actor_id, e.reason, e.detail) for e in log] == [
            (1, world.mod.id, "breaks rule 3", None),
            (2, world.alice.id, None, "their own video"),
        ]


# --- refunds, history, log -----------------------------------------------------------------


async def test_refund_gives_a_delivered_job_back_once(world_factory: Any) -> None:
    async with world_factory() as world:
        await delivered(world)
        assert (await world.balance(world.alice)).available == 420

        refunded = await world.mod.slash(world.channel, "wan-mod refund", job=1, reason="glitchy render")
        assert "80 credits back" in refunded.response.content
        twice = await world.mod.slash(world.channel, "wan-mod refund", job=1)
        assert "already refunded" in twice.response.content
        missing = await world.mod.slash(world.channel, "wan-mod refund", job=99)
        assert "no job #99" in missing.response.content

        await world.video(world.alice, prompt="sandbox:fail please")
        await world.env.advance_time(30)
        failed = await world.mod.slash(world.channel, "wan-mod refund", job=2)
        assert "already returned" in failed.response.content

        assert (await world.balance(world.alice)).available == 500
        adjusts = [e for e in await world.storage.ledger.entries(world.guild.id) if e.kind is LedgerKind.ADJUST]
        assert [(e.amount, e.job_id, e.actor_id, e.reason) for e in adjusts] == [
            (80, 1, world.mod.id, "glitchy render")
        ]
        assert (await actions(world)).count(AuditAction.REFUND) == 1


async def test_history_and_log_page_newest_first(world_factory: Any) -> None:
    async with world_factory() as world:
        for number in range(12):
            await world.mod.slash(world.channel, "wan-mod rules add", kind="word", value=f"word{number}")
        for number in range(4):
            await world.mod.slash(world.channel, "wan-mod block", member=world.bob, reason=f"round {number}")
            await world.mod.slash(world.channel, "wan-mod unblock", member=world.bob)

        shown = await world.mod.slash(world.channel, "wan-mod log")
        embed = shown.response.embeds[0]
        lines = (embed.description or "").splitlines()
        assert "20 entries" in lines[0] and "Page 1 of 2" in (embed.footer.text or "")
        assert "**unblock**" in lines[2]  # newest first
        older = await world.mod.click(shown.response.message, custom_id="wan:page:log:0:2")
        page2 = older.response.embeds[0] if older.response else None
        assert page2 is not None and "Page 2 of 2" in (page2.footer.text or "")
        assert "word0" in (page2.description or "")

        about_bob = await world.mod.slash(world.channel, "wan-mod log", member=world.bob)
        assert "8 entries" in (about_bob.response.embeds[0].description or "")

        await delivered(world)
        history = await world.mod.slash(world.channel, "wan-mod history", member=world.alice)
        text = history.response.embeds[0].description or ""
        assert "#1" in text and "delivered" in text and "a lighthouse in a storm" in text


# --- provider refusals ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sandbox", "apimall"])
async def test_provider_refusals_are_logged_and_announced_to_moderators(world_factory: Any, kind: str) -> None:
    async with world_factory(kind) as world:
        mods = await mod_channel(world)
        if kind == "apimall":
            world.server.inject("generate", status=451, error_message="content moderation")
            await world.video(world.alice)
        else:
            await world.video(world.alice, prompt="sandbox:refuse this one")
        await world.env.advance_time(40)

        [job] = await world.jobs(world.alice)
        assert job.state is JobState.REFUSED
        assert (await world.balance(world.alice)).available == 500
        log = await world.storage.audit.entries(world.guild.id)
        [entry] = [e for e in log if e.action is AuditAction.PROVIDER_REFUSED]
        assert (entry.actor_id, entry.target_member_id, entry.job_id) == (None, world.alice.id, job.id)
        [notice] = notices(world, mods)
        assert "refused job #1" in notice.content and world.pings(notice) == ([], [], False)


# --- permissions ----------------------------------------------------------------------------


async def _command_id(world: World, name: str) -> int:
    for command in await world.bot.tree.fetch_commands():
        if command.name == name:
            return command.id
    raise AssertionError(f"no command {name}")


async def test_a_command_permission_override_does_not_make_a_moderator(world_factory: Any) -> None:
    async with world_factory() as world:
        posted = await delivered(world)
        # By default Discord does not even show bob the command.
        with pytest.raises(SetupError, match="not visible"):
            await world.bob.slash(world.channel, "wan-mod log")

        # A server admin overrides the command's permissions for bob: now he can run it, and the bot refuses.
        world.guild.set_command_permissions(await _command_id(world, "wan-mod"), {world.bob: True})
        world.guild.set_command_permissions(await _command_id(world, "Remove video"), {world.bob: True})
        world.guild.set_command_permissions(await _command_id(world, "wan-admin"), {world.bob: True})
        attempts = [
            world.bob.slash(world.channel, "wan-mod block", member=world.alice),
            world.bob.slash(world.channel, "wan-mod unblock", member=world.alice),
            world.bob.slash(world.channel, "wan-mod history", member=world.alice),
            world.bob.slash(world.channel, "wan-mod refund", job=1),
            world.bob.slash(world.channel, "wan-mod log"),
            world.bob.slash(world.channel, "wan-mod rules add", kind="word", value="anything"),
            world.bob.slash(world.channel, "wan-mod rules list"),
            world.bob.context_menu(world.channel, "Remove video", posted),
            world.bob.slash(world.channel, "wan-admin review on", channel=world.channel),
            world.bob.slash(world.channel, "wan-admin mod-channel", channel=world.channel),
        ]
        for attempt in attempts:
            result = await attempt
            text = result.response.content
            assert result.ephemeral and (
                "Being allowed to use the command" in text or "only takes these changes" in text
            )

        assert len(world.results()) == 1
        assert await world.storage.audit.entries(world.guild.id) == []
        assert await world.bot.services.moderation.block_of(world.guild.id, world.alice.id) is None
