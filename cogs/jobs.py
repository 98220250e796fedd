"""/jobs: the caller's recent and running jobs, with Cancel for those not yet sent."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain import discord_limits as limits
from bot.domain.models import Job, JobState
from bot.ui import render
from bot.ui.buttons import CancelButton

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


def cancellable(job: Job) -> bool:
    return job.cancellable


class JobsCog(commands.Cog):
    def __init__(self, bot: WanBot) -> None:
        self.bot = bot

    @app_commands.command(name="jobs", description="Your recent and running video jobs")
    @app_commands.guild_only()
    async def jobs(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        jobs = await self.bot.services.jobs.recent(interaction.guild_id, interaction.user.id, _SHOWN)
        if not jobs:
            await interaction.response.send_message("You have no jobs yet. Start one with `/video`.", ephemeral=True)
            return
        view = discord.ui.View(timeout=None)
        # A message holds at most 25 buttons; 10 jobs shown keeps well under it.
        for job in jobs:
            if cancellable(job):
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


async def setup(bot: WanBot) -> None:
    await bot.add_cog(JobsCog(bot))
