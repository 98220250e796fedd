"""A rejection whose member notice never went out (the network failed, or the bot crashed, after
the decision was recorded) is finished later: pressing Reject again, or the next start, tells
the member and tidies the review message, once, with no second refund."""

from __future__ import annotations

from typing import Any

from bot.domain.models import LedgerKind
from bot.domain.moderation import ReviewState
from tests.bot.conftest import World, custom_id, shown
from tests.bot.test_review_flow import _inputs, finished_review, public_in, review_messages, review_on


def break_telling(world: World, review: Any, pending: Any) -> None:
    """The member's DMs, the job's channel and the review message all refuse the bot for now."""
    dm = world.alice.user.dm_channel
    world.env.inject_error("POST", f"/channels/{dm.id}/messages", status=403, code=50007, times=None)
    world.env.inject_error("POST", f"/channels/{world.channel.id}/messages", status=403, code=50001, times=None)
    world.env.inject_error("PATCH", f"/channels/{review.id}/messages/{pending.id}", status=403, code=50001, times=None)


async def reject_while_broken(world: World, **review_options: Any) -> tuple[Any, Any]:
    review = await review_on(world, **review_options)
    pending = await finished_review(world, review)
    break_telling(world, review, pending)
    modal = await world.mod.click(pending, custom_id=custom_id(pending, "wan:reject:"))
    done = await world.mod.submit_modal(modal, {next(iter(_inputs(modal))): "Too gory for this server"})
    assert "told nowhere" in done.response.content
    assert world.alice.user.dm_channel.history(viewer=world.alice) == []
    [still] = review_messages(world, review)  # the buttons are still on it
    row = await world.bot.services.reviews.get(1)
    assert row is not None and row.state is ReviewState.REJECTED
    world.env.backend.faults.clear()  # the network is back
    return review, still


def assert_finished(world: World, review: Any, *, refunded: bool) -> None:
    [dm] = world.alice.user.dm_channel.history(viewer=world.alice)
    assert "was not published" in dm.content and "Too gory" in dm.content
    assert ("were returned" in dm.content) is refunded
    [decided] = public_in(world, review)
    assert "Rejected" in shown(decided).content and not shown(decided).buttons


async def test_pressing_reject_again_finishes_an_interrupted_rejection_once(world_factory: Any) -> None:
    async with world_factory() as world:
        review, still = await reject_while_broken(world, refund_on_reject=True)

        again = await world.mod.click(still, custom_id=custom_id(still, "wan:reject:"))

        assert again.ephemeral and "told by direct message" in again.response.content
        assert again.modal is None  # the reason was given the first time; no second form
        assert_finished(world, review, refunded=True)
        entries = await world.storage.ledger.entries(world.guild.id)
        assert [e.kind for e in entries].count(LedgerKind.ADJUST) == 1  # refunded once, with the decision
        assert (await world.balance(world.alice)).available == 500

        row = await world.bot.services.reviews.get(1)
        assert row is not None and row.member_told
        await world.restart()  # nothing is left to finish: no second notice
        await world.env.advance_time(5)
        assert len(world.alice.user.dm_channel.history(viewer=world.alice)) == 1


async def test_the_next_start_finishes_an_interrupted_rejection(world_factory: Any) -> None:
    async with world_factory() as world:
        review, _ = await reject_while_broken(world)

        await world.restart()
        await world.env.advance_time(5)

        assert_finished(world, review, refunded=False)
        await world.restart()
        await world.env.advance_time(5)
        assert len(world.alice.user.dm_channel.history(viewer=world.alice)) == 1  # told once
