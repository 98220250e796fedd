"""Allowances, budgets, fairness, confirm prompts and /wan-admin, end to end on SimCord.

SimCord's clock starts on Thursday 2026-01-01 00:00 UTC; its users are created then, so their
accounts are brand new. Days are crossed with ``env.advance_time``; while no job is running the
job loop is paused for the jump (``idle``), since thousands of empty ticks would only cost time.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import discord
from PIL import Image

from bot.assemble import create_bot
from bot.domain.models import JobState

NO_COOLDOWN = {"cooldown_seconds": 0}


def fields(result: Any) -> dict[str, str]:
    return {field.name: field.value for field in result.response.embeds[0].fields}


async def credits(world: Any, member: Any) -> dict[str, str]:
    return fields(await member.slash(world.channel, "credits"))


async def idle(world: Any, seconds: float) -> None:
    """Let virtual time pass with no job in flight: the bot is stopped cleanly, the days go by, and
    a new bot process starts over the same SQLite file. Thousands of empty loop ticks would only
    cost test time, and refills must not need the bot to be running anyway (they are lazy)."""
    assert not await world.storage.job_repo.due(world.env.now() + timedelta(days=365), 1)
    await world.bot.close()
    await world.env.advance_time(seconds)
    world.bot = create_bot(world.config)
    await world.env.restart_bot(world.bot)


async def advance_to(world: Any, moment: datetime, *, past: float = 1.0) -> None:
    await idle(world, (moment - world.env.now()).total_seconds() + past)


def next_midnight(world: Any) -> datetime:
    return world.env.now().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


async def admin(world: Any, command: str, **options: Any) -> Any:
    result = await world.admin.slash(world.channel, f"wan-admin {command}", **options)
    assert result.ephemeral
    return result


async def test_daily_refill_at_midnight_then_weekly_on_monday(world_factory: Any) -> None:
    async with world_factory(credits={"refill_period": "daily"}, limits=NO_COOLDOWN) as world:
        await world.video(world.alice)
        await world.env.advance_time(120)
        assert len(world.results()) == 1
        shown = await credits(world, world.alice)
        assert shown["Available"] == "420" and shown["Allowance"] == "500 per day"
        assert shown["Allowance from"] == "server default"
        midnight = next_midnight(world)
        assert shown["Next refill"] == f"<t:{int(midnight.timestamp())}:F>"

        await advance_to(world, midnight, past=-60)  # a minute before midnight: same day, no refill
        assert (await credits(world, world.alice))["Available"] == "420"
        await world.env.advance_time(120)
        shown = await credits(world, world.alice)
        assert shown["Available"] == "500" and "refill +80" in shown["Last entries"]

        result = await admin(world, "refill-period", period="weekly")
        assert "weekly" in result.response.content
        await world.video(world.alice)
        await world.env.advance_time(120)
        assert (await credits(world, world.alice))["Available"] == "420"
        monday = datetime(2026, 1, 5, tzinfo=world.env.now().tzinfo)
        await advance_to(world, monday, past=-60)  # Sunday night: no refill
        assert (await credits(world, world.alice))["Available"] == "420"
        await world.env.advance_time(120)
        shown = await credits(world, world.alice)
        assert shown["Available"] == "500" and shown["Allowance"] == "500 per week"


async def test_role_added_or_removed_changes_the_allowance_at_the_next_refill(world_factory: Any) -> None:
    async with world_factory(credits={"refill_period": "daily"}) as world:
        patrons = world.guild.create_role("Patrons")
        result = await admin(world, "allowance set", amount=1000, role=patrons)
        assert "1000" in result.response.content
        assert (await credits(world, world.alice))["Available"] == "500"

        world.env.backend.add_member_role(world.guild.id, world.alice.id, patrons.id)
        shown = await credits(world, world.alice)
        # The new allowance shows at once, the credits come with the next refill.
        assert shown["Allowance from"] == f"role <@&{patrons.id}>" and shown["Allowance"] == "1000 per day"
        assert shown["Available"] == "500"
        await advance_to(world, next_midnight(world))
        assert (await credits(world, world.alice))["Available"] == "1000"
        shown = fields(await admin(world, "allowance show"))
        assert shown["Role allowances (highest wins)"] == f"<@&{patrons.id}>: 1000"
        assert shown["Default allowance"] == "500 per day" and shown["Budget"] == "no cap"

        await admin(world, "grant", member=world.alice, amount=-800, reason="correction")
        world.env.backend.remove_member_role(world.guild.id, world.alice.id, patrons.id)
        assert (await credits(world, world.alice))["Allowance from"] == "server default"
        await advance_to(world, next_midnight(world))
        shown = await credits(world, world.alice)
        assert shown["Available"] == "500" and shown["Allowance"] == "500 per day"


async def test_budget_cap_refuses_without_charge_and_tells_admins_once(world_factory: Any) -> None:
    async with world_factory() as world:
        admins = world.guild.create_text_channel("admins")
        await admin(world, "admin-channel", channel=admins)
        result = await admin(world, "budget", amount=100)
        assert "0 of 100 credits spent this month" in result.response.content

        await world.video(world.alice)  # 80 of 100
        for member in (world.bob, world.mod, world.bob):
            refused = await world.video(member)
            assert refused.ephemeral and "budget is used up this month: 80 of 100" in refused.response.content
            assert "Nothing was charged" in refused.response.content
        [notice] = admins.history(viewer=world.admin)
        assert "reached its video budget this month (80 of 100 credits)" in notice.content
        assert await world.jobs(world.bob) == [] and (await credits(world, world.bob))["Available"] == "500"
        assert "80 of 100" in (await admin(world, "budget")).response.content


async def test_the_queue_alternates_between_members(world_factory: Any) -> None:
    limits = {"max_in_flight": 1, "cooldown_seconds": 0, "max_running_per_member": 5}
    async with world_factory("wan26ai", limits=limits) as world:
        for member, prompt in [(world.alice, "a1"), (world.alice, "a2"), (world.alice, "a3")]:
            await world.video(member, prompt=prompt)
        await world.video(world.bob, prompt="b1")
        await world.video(world.mod, prompt="m1")
        await world.env.advance_time(16)  # a progress message is edited at most every 15 s
        # One job at the provider, the rest in line: alice's third job waits behind bob's and mod's.
        progress = {m.content.split("**")[1]: m.content for m in world.public() if "Queued" in m.content}
        assert len(progress) == 4
        [a3_line] = [text for text in progress.values() if "number **4** in line" in text]
        assert "3 jobs ahead" in a3_line

        await world.env.advance_time(1500)
        assert len(world.results()) == 5
        order = [request.json["prompt"] for request in world.server.requests_to("generate")]
        assert order == ["a1", "b1", "m1", "a2", "a3"]
        tasks = list(world.server.tasks.values())
        # Never two at the provider at once: each create comes after the previous render ended.
        assert all(b.created_at >= a.created_at + a.render_seconds for a, b in pairwise(tasks))


async def test_wan_admin_is_refused_without_manage_server_even_when_discord_shows_it(world_factory: Any) -> None:
    async with world_factory() as world:
        assert not any(name.startswith("wan-admin") for name in world.alice.available_commands(world.channel))
        [command] = [c for c in await world.bot.tree.fetch_commands() if c.name == "wan-admin"]
        # A server admin lets alice use the command in Server Settings → Integrations.
        world.guild.set_command_permissions(command, {world.alice: True})
        leaves = [n for n in world.alice.available_commands(world.channel) if n.startswith("wan-admin ")]
        role = world.guild.create_role("Patrons")
        options: dict[str, dict[str, Any]] = {
            "wan-admin grant": {"member": world.alice, "amount": 1000},
            "wan-admin allowance set": {"amount": 100000},
            "wan-admin allowance clear": {"role": role},
            "wan-admin refill-period": {"period": "daily"},
            "wan-admin budget": {"amount": 1},
            "wan-admin channels add": {"channel": world.channel},
            "wan-admin channels remove": {"channel": world.channel},
            "wan-admin channels resume": {"channel": world.channel},
            "wan-admin admin-channel": {"channel": world.channel},
            "wan-admin public": {"state": "on"},
        }
        # 14 for credits and provider options + review on|off|status + mod-channel
        assert len(leaves) == 18 and set(options) <= set(leaves)
        for leaf in leaves:
            result = await world.alice.slash(world.channel, leaf, **options.get(leaf, {}))
            assert result.ephemeral and "needs the Manage Server permission" in result.response.content, leaf
            assert not result.response.attachments and not result.response.embeds
        # Nothing changed: no grant, no new allowance, no budget, no channel list.
        # Not even a refill was written for alice: the ledger is untouched.
        assert await world.storage.ledger.recent(world.guild.id, world.alice.id) == []
        overview = await world.bot.services.admin.overview(world.guild.id)
        assert overview.policy.default_allowance == 500 and not overview.budget.capped and overview.channels == []
        # The real admin still can.
        assert "Granted 1000" in (await admin(world, "grant", member=world.bob, amount=1000)).response.content


async def test_stats_chart_and_ledger_export_are_real_files(world_factory: Any) -> None:
    async with world_factory() as world:
        await world.video(world.alice)
        await world.env.advance_time(60)
        await admin(world, "grant", member=world.bob, amount=40, reason="contest")

        stats = await admin(world, "stats")
        assert f"1. <@{world.alice.id}>: 80 credits, 1 video" in stats.response.content
        assert "**80** credits spent on **1** videos" in stats.response.content
        [chart] = stats.response.attachments
        png = await chart.read()
        assert chart.filename.endswith(".png") and png.startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(io.BytesIO(png)) as image:
            image.load()
            assert image.format == "PNG" and image.size == (960, 420)

        export = await admin(world, "export")
        [file] = export.response.attachments
        assert file.filename.endswith(".csv")
        rows = list(csv.DictReader(io.StringIO((await file.read()).decode("utf-8"))))
        entries = await world.storage.ledger.entries(world.guild.id)
        assert [(int(r["id"]), r["kind"], int(r["amount"]), r["member_id"]) for r in rows] == [
            (e.id, e.kind.value, e.amount, str(e.member_id)) for e in entries
        ]
        assert [r["kind"] for r in rows] == ["refill", "hold", "settle", "refill", "grant"]
        assert rows[-1]["reason"] == "contest" and rows[-1]["actor_id"] == str(world.admin.id)


async def test_expensive_jobs_wait_for_confirm(world_factory: Any) -> None:
    async with world_factory(limits=NO_COOLDOWN) as world:
        prompt = await world.video(world.alice, duration="15")  # 220 > confirm_above 200
        assert (
            prompt.ephemeral
            and "Price **220**" in prompt.response.content
            and "after it **280**" in prompt.response.content
        )
        await world.alice.click(prompt.response, label="Cancel")
        assert "Nothing was charged" in prompt.response.content and not prompt.response.components

        prompt = await world.video(world.alice, duration="15")
        await world.env.advance_time(150)  # no answer within the timeout
        assert "Not confirmed" in prompt.response.content and not prompt.response.components
        assert await world.jobs(world.alice) == [] and (await world.balance(world.alice)).available == 500

        prompt = await world.video(world.alice, duration="15")
        await world.alice.click(prompt.response, label="Confirm")
        assert "accepted" in prompt.response.content and "Balance after the hold: **280**" in prompt.response.content
        [job] = await world.jobs(world.alice)
        assert job.price == 220 and (await world.balance(world.alice)).held == 220
        await world.env.advance_time(30)
        [posted] = world.results()

        # Reroll goes through the same prompt; bob confirms and pays for his own.
        reroll = await world.bob.click(posted, label="Reroll")
        assert reroll.ephemeral and "Confirm this video?" in reroll.response.content
        await world.bob.click(reroll.response, label="Confirm")
        assert (await world.balance(world.bob)).held == 220


async def test_cooldown_and_running_limit_refuse_before_any_charge(world_factory: Any) -> None:
    provider = {"sandbox_render_seconds": 600}
    async with world_factory(provider=provider, limits={"cooldown_seconds": 30, "max_running_per_member": 2}) as world:
        await world.video(world.alice)
        refused = await world.video(world.alice)
        assert refused.ephemeral and "wait 30 more seconds" in refused.response.content
        await world.env.advance_time(31)
        await world.video(world.alice)
        await world.env.advance_time(31)
        refused = await world.video(world.alice)
        assert "You already have 2 videos queued or rendering" in refused.response.content
        assert "Nothing was charged" in refused.response.content
        assert len(await world.jobs(world.alice)) == 2 and (await world.balance(world.alice)).held == 160


async def test_new_accounts_get_their_allowance_later(world_factory: Any) -> None:
    async with world_factory(credits={"min_account_age_days": 2}) as world:
        shown = await credits(world, world.alice)
        assert shown["Available"] == "0" and "yours starts" in shown["Note"]
        assert "Next refill" not in shown and shown["Allowance starts"].startswith("<t:")
        refused = await world.video(world.alice)
        assert "allowance after a while: yours starts on 2026-01-03 00:00 UTC" in refused.response.content
        await idle(world, 2 * 86400 + 60)
        assert (await credits(world, world.alice))["Available"] == "500"


async def test_video_only_in_allowed_channels(world_factory: Any) -> None:
    async with world_factory() as world:
        general = world.guild.create_text_channel("general")
        result = await admin(world, "channels add", channel=world.channel)
        assert f"<#{world.channel.id}>" in result.response.content
        refused = await world.alice.slash(general, "video", prompt="a boat")
        assert refused.ephemeral and f"Videos are made in <#{world.channel.id}>" in refused.response.content
        await world.video(world.alice)
        assert len(await world.jobs(world.alice)) == 1
        listed = await admin(world, "channels list")
        assert f"<#{world.channel.id}>" in listed.response.content


async def test_provider_out_of_credits_tells_admins_once(world_factory: Any) -> None:
    async with world_factory("wan26ai", server={"credits": 0}) as world:
        admins = world.guild.create_text_channel("admins")
        await admin(world, "admin-channel", channel=admins)
        await world.video(world.alice)
        await world.video(world.bob)
        await world.env.advance_time(30)
        assert {job.state for job in await world.jobs(world.alice) + await world.jobs(world.bob)} == {JobState.FAILED}
        [notice] = admins.history(viewer=world.admin)
        assert "out of credits" in notice.content
        assert (await world.balance(world.alice)).available == 500
        assert isinstance(notice, discord.Message)


async def test_time_in_the_queue_counts_toward_the_job_timeout(world_factory: Any) -> None:
    provider = {"sandbox_render_seconds": 600, "job_timeout_minutes": 2}
    async with world_factory(provider=provider, limits={"max_in_flight": 1, **NO_COOLDOWN}) as world:
        await world.video(world.alice)
        await world.video(world.bob)
        await world.env.advance_time(16)  # a progress message is edited at most every 15 s
        [waiting] = [m for m in world.public() if m.content.startswith("🎬 **Job #2**")]
        assert "number **1** in line" in waiting.content
        await world.env.advance_time(150)
        [job] = await world.jobs(world.bob)
        # Never sent, ended after the timeout with the credits back, and bob is told.
        assert job.state is JobState.TIMED_OUT and job.submitted_at is None
        assert (await world.balance(world.bob)).held == 0
        assert any("your job **#2** timed out" in m.content for m in world.public())


async def test_every_admin_setting_change_is_in_the_audit_log(world_factory: Any) -> None:
    async with world_factory() as world:
        role = world.guild.create_role("Patrons")
        await admin(world, "allowance set", amount=300)
        await admin(world, "allowance set", amount=900, role=role)
        await admin(world, "allowance clear", role=role)
        await admin(world, "refill-period", period="daily")
        await admin(world, "budget", amount=5000)
        await admin(world, "channels add", channel=world.channel)
        await admin(world, "channels remove", channel=world.channel)
        await admin(world, "admin-channel", channel=world.channel)
        await admin(world, "grant", member=world.bob, amount=50, reason="contest")
        entries = await world.storage.audit.entries(world.guild.id)
        details = [(entry.action.value, entry.detail) for entry in entries]
        assert details == [
            ("setting", "default allowance 300"),
            ("setting", f"allowance of <@&{role.id}> 900"),
            ("setting", f"allowance of <@&{role.id}> cleared"),
            ("setting", "refill period daily"),
            ("setting", "budget 5000 monthly"),
            ("setting", f"allowed channel <#{world.channel.id}> added"),
            ("setting", f"allowed channel <#{world.channel.id}> removed"),
            ("setting", f"admin channel <#{world.channel.id}>"),
            ("grant", "+50 credits"),
        ]
        assert entries[-1].reason == "contest" and entries[-1].target_member_id == world.bob.id
        assert all(entry.actor_id == world.admin.id for entry in entries)
        # Moderators read it newest first with /wan-mod log.
        log = await world.mod.slash(world.channel, "wan-mod log")
        shown = log.response.embeds[0].description or ""
        assert shown.index("contest") < shown.index("default allowance 300")
