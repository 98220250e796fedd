"""Review mode end to end: finished videos wait in a review channel; Approve posts them, Reject
tells the member; buttons survive restarts; two moderators at once make one decision.
Every test runs with both result styles (a Components V2 card, and the classic embed)."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.domain.models import JobState, LedgerKind
from bot.domain.moderation import AuditAction, ReviewState
from tests.bot.conftest import STYLES, World, custom_id, shown
from tests.bot.together import click_together

pytestmark = pytest.mark.parametrize("result_style", STYLES)


async def review_on(world: World, **options: Any) -> Any:
    review = world.guild.create_text_channel("review")
    result = await world.admin.slash(world.channel, "wan-admin review on", channel=review, **options)
    assert result.ephemeral and "Review mode is on" in result.response.content
    return review


def public_in(world: World, channel: Any) -> list[discord.Message]:
    """A channel as a bystander sees it, without anyone's ephemeral replies."""
    return [m for m in channel.history(viewer=world.bob) if not m.flags.ephemeral]


def review_messages(world: World, review: Any) -> list[discord.Message]:
    return [m for m in public_in(world, review) if any("wan:approve:" in c for c in _ids(m))]


def _ids(message: discord.Message) -> list[str]:
    return shown(message).buttons


async def finished_review(world: World, review: Any, **video: Any) -> discord.Message:
    await world.video(world.alice, **video)
    await world.env.advance_time(30)
    [message] = review_messages(world, review)
    return message


async def actions(world: World) -> list[AuditAction]:
    return [entry.action for entry in await world.storage.audit.entries(world.guild.id)]


async def test_approve_after_a_restart_posts_once_and_pings_only_the_member(world_factory: Any) -> None:
    async with world_factory() as world:
        review = await review_on(world)
        pending = await finished_review(world, review)

        # Nothing public yet; the review message names alice without pinging anyone.
        assert world.results() == []
        assert f"<@{world.alice.id}>" in shown(pending).content and world.pings(pending) == ([], [], False)
        assert pending.attachments and pending.attachments[0].filename == "sandbox.mp4"
        assert shown(pending).media == [pending.attachments[0].url]
        assert shown(pending).description == "a lighthouse in a storm, cinematic"
        assert "moderator will look" in world.public()[0].content
        [job] = await world.jobs(world.alice)
        # Delivered to review = settled: the render was made and paid.
        assert job.state is JobState.DELIVERED
        assert (await world.balance(world.alice)).available == 420

        await world.restart()
        # Anyone who can see the review channel sees the buttons; only moderators can use them.
        refused = await world.bob.click(pending, custom_id=custom_id(pending, "wan:approve:"))
        assert refused.ephemeral and "Only moderators" in refused.response.content
        clicked = await world.mod.click(pending, custom_id=custom_id(pending, "wan:approve:"))

        assert "Approved job" in clicked.response.content
        [posted] = world.results()
        assert world.pings(posted) == ([world.alice.id], [], False)
        assert posted.attachments[0].filename == "sandbox.mp4"
        assert custom_id(posted, "wan:report:")  # the public result carries Report
        assert shown(posted).media == [posted.attachments[0].url]
        [decided] = public_in(world, review)
        assert "Approved" in shown(decided).content and not shown(decided).buttons
        assert shown(decided).media == [decided.attachments[0].url]  # the video stays for the record
        assert "posted below" in world.public()[0].content
        review_row = await world.bot.services.reviews.get(job.id)
        assert review_row is not None and review_row.state is ReviewState.APPROVED
        assert review_row.published_message_id == posted.id
        assert (await world.bot.services.jobs.get(job.id)).result_message_id == posted.id
        assert (await world.balance(world.alice)).available == 420  # approval moves no money
        log = await world.storage.audit.entries(world.guild.id)
        assert [(e.action, e.actor_id) for e in log] == [
            (AuditAction.SETTING, world.admin.id),  # review mode on
            (AuditAction.APPROVE, world.mod.id),
        ]
        assert "review on" in (log[0].detail or "") and log[1].job_id == job.id


async def test_two_moderators_approving_at_once_make_one_decision_and_one_post(world_factory: Any) -> None:
    async with world_factory() as world:
        review = await review_on(world)
        pending = await finished_review(world, review)
        mods = world.guild.create_role("More mods", permissions=discord.Permissions(manage_messages=True))
        mod2 = world.guild.add_member(world.env.create_user("mod2"), roles=[mods])
        button = custom_id(pending, "wan:approve:")

        first, second = await click_together(world.env, [(world.mod, pending, button), (mod2, pending, button)])

        answers = sorted(r.response.content for r in (first, second))
        assert sum("Approved job" in a for a in answers) == 1
        assert sum("already approved by" in a for a in answers) == 1
        assert len(world.results()) == 1
        assert (await actions(world)).count(AuditAction.APPROVE) == 1


async def test_reject_without_refund_tells_the_member_by_dm_and_keeps_the_credits(world_factory: Any) -> None:
    async with world_factory() as world:
        review = await review_on(world)
        pending = await finished_review(world, review)

        modal = await world.mod.click(pending, custom_id=custom_id(pending, "wan:reject:"))
        assert modal.modal is not None
        done = await world.mod.submit_modal(modal, {next(iter(_inputs(modal))): "Too gory for this server"})

        assert "told by direct message" in done.response.content
        [dm] = world.alice.user.dm_channel.history(viewer=world.alice)
        assert "was not published" in dm.content and "Too gory" in dm.content and "stay spent" in dm.content
        assert world.results() == []
        [decided] = public_in(world, review)
        assert "Rejected" in shown(decided).content and not shown(decided).buttons
        balance = await world.balance(world.alice)
        assert (balance.available, balance.held) == (420, 0)
        kinds = [e.kind for e in await world.storage.ledger.entries(world.guild.id)]
        assert kinds == [LedgerKind.REFILL, LedgerKind.HOLD, LedgerKind.SETTLE]
        assert "did not approve" in world.public()[0].content
        log = await world.storage.audit.entries(world.guild.id)
        [reject] = [e for e in log if e.action is AuditAction.REJECT]
        assert reject.actor_id == world.mod.id and reject.reason == "Too gory for this server"


async def test_reject_with_refunds_on_and_dms_closed_tells_the_member_in_the_channel(world_factory: Any) -> None:
    async with world_factory() as world:
        review = await review_on(world, refund_on_reject=True)
        pending = await finished_review(world, review)
        dm_channel = world.alice.user.dm_channel
        world.env.inject_error("POST", f"/channels/{dm_channel.id}/messages", status=403, code=50007, times=None)

        modal = await world.mod.click(pending, custom_id=custom_id(pending, "wan:reject:"))
        done = await world.mod.submit_modal(modal, {})  # the reason is optional

        assert (
            "direct messages are closed" in done.response.content
            and "80 credits were refunded" in done.response.content
        )
        notice = world.public()[-1]
        assert "was not published" in notice.content and "were returned" in notice.content
        assert not notice.attachments and not notice.components  # no video, no buttons
        assert world.pings(notice) == ([world.alice.id], [], False)
        assert world.results() == []
        balance = await world.balance(world.alice)
        assert (balance.available, balance.held) == (500, 0)
        entries = await world.storage.ledger.entries(world.guild.id)
        [adjust] = [e for e in entries if e.kind is LedgerKind.ADJUST]
        assert (adjust.amount, adjust.actor_id, adjust.job_id) == (80, world.mod.id, 1)

        # The refund came with the rejection; a second one is refused whoever asks.
        again = await world.mod.slash(world.channel, "wan-mod refund", job=1)
        assert again.ephemeral and "already refunded" in again.response.content
        assert (await world.balance(world.alice)).available == 500
        assert {AuditAction.REJECT, AuditAction.REFUND} <= set(await actions(world))

        # The review message cannot be decided twice: its buttons are gone, and a stale click is refused.
        [decided] = public_in(world, review)
        assert not shown(decided).buttons
        late = await world.bot.services.reviews.approve(world.guild.id, 1, actor_id=world.mod.id)
        assert not late.won and late.review.state is ReviewState.REJECTED


def _inputs(shown: Any) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == 4 and "custom_id" in node:
                found.append(node["custom_id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(shown.modal)
    return found
