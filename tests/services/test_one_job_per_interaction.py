"""One Discord interaction makes one job, even when two processes both receive it (Discord may
deliver an interaction to two sessions during a handover): the second accept holds nothing and
says the job is already being made."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.domain.models import LedgerKind
from bot.errors import Conflict
from bot.services.credits import MemberContext
from bot.services.jobs import JobRequest
from tests.services.rig import open_rig
from tests.services.test_leases import second_process
from tests.support import CHANNEL, GUILD, spec

INTERACTION = 1_234_567_890_123


def request(interaction_id: int | None) -> JobRequest:
    return JobRequest(
        guild_id=GUILD,
        channel_id=CHANNEL,
        member=MemberContext(7),
        spec=spec("a lighthouse"),
        interaction_id=interaction_id,
    )


async def holds(rig: Any) -> int:
    return sum(1 for entry in await rig.storage.ledger.entries(GUILD) if entry.kind is LedgerKind.HOLD)


async def test_the_same_interaction_on_a_second_process_holds_nothing(tmp_path: Any) -> None:
    async with open_rig(tmp_path) as rig, second_process(rig) as other:
        first = await rig.services.jobs.accept(request(INTERACTION))
        balance = await rig.services.credits.ledger.balance(GUILD, 7)
        with pytest.raises(Conflict) as refused:
            await other.jobs.accept(request(INTERACTION))
        assert f"already being made: job #{first.job.id}" in refused.value.message
        assert "Nothing more was charged" in refused.value.message
        assert [job.id for job in await rig.jobs()] == [first.job.id]
        assert await holds(rig) == 1
        assert await rig.services.credits.ledger.balance(GUILD, 7) == balance


async def test_two_processes_accepting_one_interaction_at_once_make_one_job(tmp_path: Any) -> None:
    async with open_rig(tmp_path) as rig, second_process(rig) as other:
        outcomes = await asyncio.gather(
            rig.services.jobs.accept(request(INTERACTION)),
            other.jobs.accept(request(INTERACTION)),
            return_exceptions=True,
        )
        refused = [outcome for outcome in outcomes if isinstance(outcome, Conflict)]
        assert len(refused) == 1 and len(await rig.jobs()) == 1
        assert await holds(rig) == 1


async def test_different_interactions_make_different_jobs(tmp_path: Any) -> None:
    async with open_rig(tmp_path) as rig:
        await rig.services.jobs.accept(request(INTERACTION))
        await rig.services.jobs.accept(request(INTERACTION + 1))
        await rig.services.jobs.accept(request(None))
        assert len(await rig.jobs()) == 3 and await holds(rig) == 3
