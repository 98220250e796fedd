"""/jobs: the caller's recent and running jobs, with Cancel for those not yet sent (a button per
job, or the ``cancel`` option, which autocompletes the caller's own queued jobs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain import discord_limits as limits
from bot.domain.models import Job, JobState
from bot.exts.video._buttons import CancelButton
from bot.ui import render
from bot.ui.answers import send_ephemeral

if TYPE_CHECKING:
    from bot.app import WanBot

_SHOWN = 10
_ICONS = {
    JobState.ACCEPTED: "⏳",
    JobState.SUBMITTED: "🎞️",
    JobState.RENDERING: "🎞️",
    JobState.SUCCEEDED: "📤",
    JobState.DELIVERING: "📤",
    JobState.DELIVERED: "✅",
    JobState.CANCELLED: "🚫",
}


def job_line(job: Job) -> str:
    icon = _ICONS.get(job.state, "❌")
    returned = f", {job.price} returned" if job.state.is_released else ""
    return (
        f"{icon} **#{job.id}** {render.spec_line(job.spec)} · {job.state.label}{returned} · "
        f"{render.timestamp(job.accepted_at)}\n   {render.prompt_inline(job.spec.prompt, 80)}"
    )


class JobsCog(commands.Cog):
    def __init__(self, bot: WanBot) -> None:
        self.bot = bot

    async def _own_cancellable(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        jobs = await self.bot.services.lookup.cancellable(interaction.guild_id, interaction.user.id, current)
        return [
            app_commands.Choice(
                name=render.truncate(f"#{job.job_id} · {job.price} credits · {job.prompt}", 100), value=job.job_id
            )
            for job in jobs
        ]

    @app_commands.command(name="jobs", description="Your recent and running video jobs")
    @app_commands.guild_only()
    @app_commands.describe(cancel="Cancel one of your queued jobs (credits back at once)")
    @app_commands.autocomplete(cancel=_own_cancellable)
    async def jobs(self, interaction: discord.Interaction, cancel: app_commands.Range[int, 1] | None = None) -> None:
        assert interaction.guild_id is not None
        if cancel is not None:
            job = await self.bot.services.jobs.cancel(interaction.guild_id, cancel, interaction.user.id)
            await send_ephemeral(interaction, f"Cancelled job #{job.id}. Your {job.price} credits are back.")
            return
        jobs = await self.bot.services.jobs.recent(interaction.guild_id, interaction.user.id, _SHOWN)
        if not jobs:
            await interaction.response.send_message("You have no jobs yet. Start one with `/video`.", ephemeral=True)
            return
        view = discord.ui.View(timeout=None)
        # A message holds at most 25 buttons; 10 jobs shown keeps well under it.
        for job in jobs:
            if job.cancellable:  # a domain rule: queued and certainly not at the provider
                view.add_item(CancelButton(job.id))
        embed = discord.Embed(
            title="Your jobs",
            description=limits.fit_lines([job_line(job) for job in jobs], limits.EMBED_DESCRIPTION),
            colour=discord.Colour.blurple(),
        )
        if view.children:
            embed.set_footer(text="Queued jobs can be cancelled until they are sent; their credits come back.")
            await interaction.response.send_message(embed=embed, view=view, ephemeral=True)
        else:
            await interaction.response.send_message(embed=embed, ephemeral=True)
