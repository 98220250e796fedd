"""The 3-second rule: slow work is acknowledged first, fast work is answered directly.

SimCord freezes time while the bot handles an action, so a real deadline cannot pass there;
this runs ``within_deadline`` on a real event loop with the few response calls it makes."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest

from bot.ui import answers as flow


class Response:
    """Discord's side of an interaction response: answered once, possibly deferred first."""

    def __init__(self) -> None:
        self.type: discord.InteractionResponseType | None = None
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def is_done(self) -> bool:
        return self.type is not None

    async def defer(self, **options: Any) -> None:
        assert self.type is None, "answered twice"
        self.calls.append(("defer", options))
        self.type = (
            discord.InteractionResponseType.deferred_channel_message
            if options.get("thinking")
            else discord.InteractionResponseType.deferred_message_update
        )


class Interaction:
    def __init__(self) -> None:
        self.response = Response()


@pytest.fixture(autouse=True)
def short_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flow, "ANSWER_BUDGET_SECONDS", 0.05)


async def test_fast_work_is_not_deferred() -> None:
    interaction = Interaction()
    assert await flow.within_deadline(interaction, asyncio.sleep(0, "held")) == "held"  # type: ignore[arg-type]
    assert interaction.response.calls == []


async def test_slow_work_is_deferred_privately_then_finishes() -> None:
    interaction = Interaction()
    assert await flow.within_deadline(interaction, asyncio.sleep(0.2, "held")) == "held"  # type: ignore[arg-type]
    assert interaction.response.calls == [("defer", {"ephemeral": True, "thinking": True})]


async def test_slow_button_work_defers_as_an_update() -> None:
    interaction = Interaction()
    await flow.within_deadline(interaction, asyncio.sleep(0.2), update=True)  # type: ignore[arg-type]
    assert interaction.response.calls == [("defer", {})]


async def test_a_refusal_after_the_deferral_still_reaches_the_caller() -> None:
    async def refuse() -> None:
        await asyncio.sleep(0.2)
        raise flow.UserFacingError("not enough credits")

    interaction = Interaction()
    with pytest.raises(flow.UserFacingError, match="not enough credits"):
        await flow.within_deadline(interaction, refuse())  # type: ignore[arg-type]
    assert interaction.response.is_done()


async def test_cancelling_the_command_cancels_the_work() -> None:
    started = asyncio.Event()
    finished = False

    async def work() -> None:
        nonlocal finished
        started.set()
        await asyncio.sleep(10)
        finished = True

    task = asyncio.ensure_future(flow.within_deadline(Interaction(), work()))  # type: ignore[arg-type]
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert not finished


async def test_a_burst_shares_one_watchdog_that_stops_when_all_are_answered() -> None:
    interactions = [Interaction() for _ in range(20)]
    slow = [flow.within_deadline(i, asyncio.sleep(0.2)) for i in interactions[:10]]  # type: ignore[arg-type]
    fast = [flow.within_deadline(i, asyncio.sleep(0)) for i in interactions[10:]]  # type: ignore[arg-type]
    watchdog_tasks: set[asyncio.Task[None] | None] = set()

    async def observe() -> None:
        for _ in range(20):
            watchdog_tasks.add(flow._watchdogs[asyncio.get_running_loop()].task)
            await asyncio.sleep(0.01)

    await asyncio.gather(*slow, *fast, observe())
    assert [len(i.response.calls) for i in interactions] == [1] * 10 + [0] * 10
    assert len(watchdog_tasks - {None}) == 1  # one timer for the whole burst
    assert flow._watchdogs[asyncio.get_running_loop()].task is None  # and none left running
