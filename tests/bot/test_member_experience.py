"""What a member sees while waiting and after (issue 14): an honest ETA, a queue place with a start
estimate, at most two public messages per job, /credits one line per job, the prompt limits Discord
enforces while typing, autocompletes and /help. All on SimCord's virtual clock."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path
from typing import Any

import discord
import pytest
from simcord import OptionError

from bot.domain.models import JobState
from tests.bot.conftest import open_world, shown

RELAXED_LIMITS = {"cooldown_seconds": 0, "max_running_per_member": 10, "max_in_flight": 1000}
# Edits as often as the 15 s floor allows, so the tests see the message move.
QUICK_EDITS = {"progress_edit_seconds": 15}


def progress_of(world: Any, job_id: int) -> discord.Message:
    [message] = [m for m in world.public() if f"**Job #{job_id}**" in m.content and not m.embeds]
    return message


def bar_cells(text: str) -> int:
    return text.count("▰")


async def test_the_eta_appears_moves_and_says_when_a_render_takes_longer_than_usual(world_factory: Any) -> None:
    async with world_factory("apimall", limits=RELAXED_LIMITS, delivery=QUICK_EDITS) as world:
        world.server.render_seconds = 60
        await world.video(world.alice, prompt="first of a shape")
        await world.env.advance_time(20)
        first = progress_of(world, 1).content
        assert "first of its kind" in first and "Expected <t:" in first  # the provider's guess, said as such
        await world.env.advance_time(120)
        for index in range(2):
            await world.video(world.alice, prompt=f"warm-up {index}")
            await world.env.advance_time(20)
            seen = "1 render" if index == 0 else "2 renders"
            assert f"a first guess: only {seen} like it so far" in progress_of(world, index + 2).content
            await world.env.advance_time(100)
        assert len(world.results()) == 3

        world.server.render_seconds = 300  # this one will be slow
        await world.video(world.alice, prompt="the slow one")
        await world.env.advance_time(20)
        [job] = [j for j in await world.jobs(world.alice) if j.spec.prompt == "the slow one"]
        early = progress_of(world, job.id).content
        assert "from the last 3 renders like it" in early
        assert job.submitted_at is not None
        [expected_at] = [part.split(":")[0] for part in early.split("Expected <t:")[1:]]
        assert int(expected_at) > int(job.submitted_at.timestamp())  # a Discord timestamp of the finish
        assert "longer than usual" not in early

        await world.env.advance_time(30)
        later = progress_of(world, job.id).content
        assert bar_cells(later) > bar_cells(early)  # the bar moved

        await world.env.advance_time(60)  # now past every render of this shape so far
        late = progress_of(world, job.id).content
        assert "Taking longer than usual" in late and "usually about" in late

        await world.env.advance_time(400)
        [job] = [j for j in await world.jobs(world.alice) if j.id == job.id]
        assert job.state is JobState.DELIVERED


async def test_a_queued_job_shows_its_place_and_an_estimated_start(world_factory: Any) -> None:
    limits = {**RELAXED_LIMITS, "max_in_flight": 1}
    async with world_factory("apimall", limits=limits) as world:
        await world.video(world.alice, prompt="goes first")
        await world.video(world.bob, prompt="waits")
        await world.env.advance_time(16)  # one edit per job per 15 s at most
        waiting = progress_of(world, 2).content
        assert "number **1** in line" in waiting and "0 jobs ahead" in waiting
        assert "Estimated start <t:" in waiting and "to render" in waiting


async def test_progress_edits_never_come_closer_than_15_seconds(world_factory: Any) -> None:
    async with world_factory("apimall", limits=RELAXED_LIMITS, delivery=QUICK_EDITS) as world:
        world.server.render_seconds = 20
        await world.video(world.alice)
        seen: list[tuple[float, str]] = [(world.env.now().timestamp(), progress_of(world, 1).content)]
        for _ in range(60):
            await world.env.advance_time(1)
            text = progress_of(world, 1).content
            if text != seen[-1][1]:
                seen.append((world.env.now().timestamp(), text))
        assert len(world.results()) == 1
        gaps = [later[0] - earlier[0] for earlier, later in pairwise(seen)]
        assert len(seen) >= 3 and all(gap >= 15 for gap in gaps)
        assert "done in" in seen[-1][1]  # the last edit, the pointer, waited for the gap rather than being lost


async def test_a_delivered_job_leaves_two_public_messages_the_progress_one_pointing_at_the_video(
    world_factory: Any,
) -> None:
    async with world_factory(limits=RELAXED_LIMITS) as world:
        await world.video(world.alice)
        await world.env.advance_time(60)
        public = world.public()
        assert len(public) == 2
        [result] = world.results()
        [pointer] = [m for m in public if m.id != result.id]
        assert "\n" not in pointer.content and result.jump_url in pointer.content
        assert pointer.content.startswith("✅ **Job #1**") and world.pings(pointer) == ([], [], False)


async def test_a_failed_job_leaves_one_notice_saying_why_and_that_the_credits_are_back(world_factory: Any) -> None:
    async with world_factory(limits=RELAXED_LIMITS) as world:
        await world.video(world.alice, prompt="a fox, sandbox:fail")
        await world.env.advance_time(60)
        public = world.public()
        assert len(public) == 2
        [notice] = [m for m in public if m.content.startswith("<@")]
        assert notice.content == (
            f"<@{world.alice.id}>, your job **#1** failed. The prompt asked the sandbox for a failure "
            "(sandbox:fail). Your **80** credits are back."
        )
        assert world.pings(notice) == ([world.alice.id], [], False)
        [line] = [m for m in public if m.id != notice.id]
        assert line.content == (
            f"❌ **Job #1** for <@{world.alice.id}>: failed. The prompt asked the sandbox for a failure "
            "(sandbox:fail). 80 credits returned."
        )


async def test_credits_shows_one_line_per_job_and_how_the_balance_adds_up(world_factory: Any) -> None:
    async with world_factory(limits=RELAXED_LIMITS) as world:
        await world.video(world.alice)  # delivered: 80 kept
        await world.video(world.alice, prompt="sandbox:fail please")  # failed: 80 returned
        await world.env.advance_time(60)
        await world.video(world.alice, duration="10")  # running: 150 held
        shown = await world.alice.slash(world.channel, "credits")
        assert shown.ephemeral
        fields = {field.name: field.value for field in shown.response.embeds[0].fields}
        lines = fields["Last entries"].splitlines()
        assert len(lines) == 4  # three jobs and the first refill; no separate hold and settle rows
        assert [line.split("· ", 2)[-1] for line in lines[:3]] == [
            "held (running)",
            "returned (no video)",
            "kept (video posted)",
        ]
        assert sum("**job #" in line for line in lines) == 3 and "refill +500" in lines[3]
        assert fields["Available"] == "270"
        assert fields["How it adds up"] == (
            "**0** before these + **500** refills and grants − **80** kept for posted videos"
            " − **150** held by running jobs = **270** available. Returned jobs cost nothing."
        )


async def test_discord_enforces_the_prompt_length_while_typing(world_factory: Any) -> None:
    async with world_factory() as world:
        with pytest.raises(OptionError, match="at least 1"):
            await world.video(world.alice, prompt="")
        with pytest.raises(OptionError, match="at most 5000"):
            await world.video(world.alice, prompt="x" * 5001)
        accepted = await world.video(world.alice, prompt="x" * 5000)
        assert "accepted" in accepted.response.content
        assert await world.jobs(world.bob) == []


async def test_moderator_autocompletes_offer_jobs_pages_and_rules_to_moderators_only(world_factory: Any) -> None:
    async with world_factory(limits=RELAXED_LIMITS) as world:
        await world.video(world.alice, prompt="a red kite over the sea")
        await world.video(world.alice, prompt="sandbox:fail")
        await world.env.advance_time(60)
        choices = await world.mod.autocomplete(world.channel, "wan-mod refund", "job", "")
        assert [c["value"] for c in choices] == [1]  # delivered and not refunded; the failed one is not offered
        assert "a red kite" in choices[0]["name"] and "80 credits" in choices[0]["name"]
        await world.mod.slash(world.channel, "wan-mod refund", job=1)
        assert await world.mod.autocomplete(world.channel, "wan-mod refund", "job", "") == []
        # A server lets alice see /wan-mod; autocomplete still offers her nothing.
        [command] = [c for c in await world.bot.tree.fetch_commands() if c.name == "wan-mod"]
        world.guild.set_command_permissions(command, {world.alice: True})
        await world.video(world.bob, prompt="bob's delivered one")
        await world.env.advance_time(60)
        assert len(await world.mod.autocomplete(world.channel, "wan-mod refund", "job", "")) == 1
        assert await world.alice.autocomplete(world.channel, "wan-mod refund", "job", "") == []

        pages = await world.mod.autocomplete(world.channel, "wan-mod history", "page", "", member=world.alice)
        assert pages == [{"name": "Page 1: jobs #2 to #1", "value": 1}]
        assert await world.alice.autocomplete(world.channel, "wan-mod history", "page", "", member=world.alice) == []

        await world.mod.slash(world.channel, "wan-mod rules add", kind="word", value="kraken")
        rules = await world.mod.autocomplete(world.channel, "wan-mod rules remove", "rule", "kra")
        assert len(rules) == 1 and "kraken" in rules[0]["name"]
        assert await world.alice.autocomplete(world.channel, "wan-mod rules remove", "rule", "") == []


async def test_jobs_cancel_autocompletes_only_the_members_own_queued_jobs(world_factory: Any) -> None:
    async with world_factory(limits={**RELAXED_LIMITS, "max_in_flight": 1}) as world:
        await world.video(world.bob, prompt="bob renders")
        await world.video(world.alice, prompt="alice waits")
        await world.video(world.bob, prompt="bob waits")
        await world.env.advance_time(6)
        choices = await world.alice.autocomplete(world.channel, "jobs", "cancel", "")
        assert [c["value"] for c in choices] == [2] and "alice waits" in choices[0]["name"]
        done = await world.alice.slash(world.channel, "jobs", cancel=2)
        assert done.ephemeral and done.response.content == "Cancelled job #2. Your 80 credits are back."
        assert (await world.balance(world.alice)).available == 500
        assert await world.alice.autocomplete(world.channel, "jobs", "cancel", "") == []


async def test_help_shows_prices_balance_commands_and_buttons_privately(world_factory: Any) -> None:
    async with world_factory() as world:
        shown = await world.alice.slash(world.channel, "help")
        assert shown.ephemeral
        fields = {field.name: field.value for field in shown.response.embeds[0].fields}
        assert "80" in fields["Prices (credits)"] and "325" in fields["Prices (credits)"]
        assert "**500** credits available" in fields["Your credits"]
        assert "/video" in fields["Commands you can use"] and "/wan-mod" not in fields["Commands you can use"]
        assert "Reroll" in fields["Buttons"] and "Remix" in fields["Buttons"] and "Report" in fields["Buttons"]
        as_mod = await world.mod.slash(world.channel, "help")
        assert "/wan-mod" in {f.name: f.value for f in as_mod.response.embeds[0].fields}["Commands you can use"]


def reads_right(text: str) -> None:
    """Sentences a member can read: no doubled word, no missing full stop between two sentences."""
    words = re.findall(r"[\w']+", text.lower())
    doubled = [a for a, b in pairwise(words) if a == b and not a.isdigit()]
    assert not doubled, f"doubled {doubled} in {text!r}"
    # A sentence that runs into the next: "as requested Your 80 credits", "as requested 80 credits returned".
    plain = re.sub(r"<[^>]+>|\*\*[^*]+\*\*", "X", text)
    assert not re.search(r"[a-z)] (?:[A-Z][a-z]|\d+ credits)", plain), text
    assert text.rstrip()[-1] in ".!?", text


@pytest.mark.parametrize(
    ("options", "provider", "state"),
    [
        ({"prompt": "a fox, sandbox:fail"}, {}, "failed"),
        ({"prompt": "a fox, sandbox:refuse"}, {}, "was refused"),
        ({}, {"sandbox_render_seconds": 600, "job_timeout_minutes": 1}, "timed out"),
    ],
)
async def test_every_end_state_reads_as_sentences(
    world_factory: Any, options: dict[str, Any], provider: dict[str, Any], state: str
) -> None:
    async with world_factory(limits=RELAXED_LIMITS, provider=provider) as world:
        await world.video(world.alice, **options)
        await world.env.advance_time(700)
        [notice] = [m for m in world.public() if m.content.startswith("<@")]
        [line] = [m for m in world.public() if m.content.startswith("❌")]
        assert f"your job **#1** {state}." in notice.content
        assert f": {state.removeprefix('was ')}." in line.content
        for text in (notice.content, line.content):
            reads_right(text)


async def test_a_delivered_sandbox_video_reads_right(world_factory: Any) -> None:
    async with world_factory(limits=RELAXED_LIMITS) as world:
        await world.video(world.alice)
        await world.env.advance_time(60)
        [result] = world.results()
        reads_right(shown(result).content)
        footer = shown(result).footer.text or ""
        assert footer == "Sandbox render: a sample clip. No provider credits were spent."


async def status_checks_for(folder: Path, patience: float) -> tuple[int, float]:
    """Status requests for one 200 s render, and how long after the render's end it was posted."""
    async with open_world(folder, "apimall", limits=RELAXED_LIMITS, provider={"poll_patience": patience}) as world:
        world.server.render_seconds = 200
        await world.video(world.alice)
        await world.env.advance_time(600)
        [job] = await world.jobs(world.alice)
        [task] = world.server.tasks.values()
        assert job.state is JobState.DELIVERED and job.delivered_at is not None
        return len(world.server.requests_to("status")), job.delivered_at.timestamp() - (
            task.created_at + task.render_seconds
        )


async def test_poll_patience_trades_status_requests_for_delay(tmp_path: Path) -> None:
    eager_checks, eager_delay = await status_checks_for(tmp_path / "eager", 0.05)
    patient_checks, patient_delay = await status_checks_for(tmp_path / "patient", 0.5)
    assert patient_checks < eager_checks
    assert eager_delay <= 0.05 * 200 + 5  # within patience × render, plus one loop tick
    assert patient_delay > eager_delay
