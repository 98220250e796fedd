"""The result's persistent buttons. The job id lives in the custom_id (``bot.ui.custom_ids``), so a
button on a message posted weeks ago still works after any number of restarts."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.models import Job
from bot.domain.validation import validate_prompt
from bot.errors import NotPermitted
from bot.exts.reports._views import remove_result, report_result
from bot.exts.video._flow import start_job
from bot.ui import custom_ids
from bot.ui.answers import send_ephemeral
from bot.ui.context import bot_of
from bot.ui.errors import report_error
from bot.ui.items import JobButton
from bot.ui.permissions import is_moderator

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)

# Discord caps a modal text input at 4000 characters, below the 5000 a prompt may have.
_MODAL_PROMPT_MAX = 4000

Button = discord.ui.Button[discord.ui.View]


__all__ = ["DYNAMIC_ITEMS", "result_buttons", "result_view"]


class RerollButton(JobButton, template=custom_ids.job_template("reroll")):
    action, label, emoji = "reroll", "Reroll", "🎲"

    async def run(self, interaction: discord.Interaction, bot: WanBot) -> None:
        job = await self.job(interaction, bot)
        # The clicker pays for their own reroll, after the same checks as /video.
        await start_job(bot, interaction, job.spec, parent_job_id=job.id)


class RemixModal(discord.ui.Modal, title="Remix this video"):
    def __init__(self, job: Job) -> None:
        super().__init__(timeout=600)
        self.job = job
        self.prompt: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
            label="Prompt",
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            default=job.spec.prompt[:_MODAL_PROMPT_MAX],
            max_length=_MODAL_PROMPT_MAX,
            min_length=1,
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        try:
            spec = replace(self.job.spec, prompt=validate_prompt(self.prompt.value))
            await start_job(bot_of(interaction), interaction, spec, parent_job_id=self.job.id)
        except Exception as error:
            await report_error(interaction, error)


class RemixButton(JobButton, template=custom_ids.job_template("remix")):
    action, label, emoji = "remix", "Remix", "✏️"

    async def run(self, interaction: discord.Interaction, bot: WanBot) -> None:
        job = await self.job(interaction, bot)
        await interaction.response.send_modal(RemixModal(job))


class DeleteButton(JobButton, template=custom_ids.job_template("delete")):
    action, label, emoji = "delete", "Delete", "🗑️"
    style = discord.ButtonStyle.danger

    async def may_press(self, interaction: discord.Interaction, bot: WanBot) -> None:
        self.checked_job = job = await self.job(interaction, bot)
        if interaction.user.id != job.member_id and not is_moderator(interaction):
            raise NotPermitted("Only the member who made this video or a moderator can delete it.")

    async def run(self, interaction: discord.Interaction, bot: WanBot) -> None:
        job = self.checked_job
        message = interaction.message
        assert message is not None
        await interaction.response.defer(ephemeral=True, thinking=True)  # deleting takes a round trip
        # Deleted, then recorded (with who did it), so removals show in /wan-mod history and the log.
        await remove_result(bot, interaction, job.id, channel_id=message.channel.id, message_id=message.id)
        await send_ephemeral(interaction, f"Deleted the video of job #{job.id}.")


class ReportButton(JobButton, template=custom_ids.job_template("report")):
    action, label, emoji = "report", "Report", "🚩"

    async def run(self, interaction: discord.Interaction, bot: WanBot) -> None:
        await report_result(interaction, bot, self.job_id)


class CancelButton(JobButton, template=custom_ids.job_template("cancel")):
    action, label, emoji = "cancel", "Cancel", "🚫"

    def __init__(self, job_id: int) -> None:
        super().__init__(job_id)
        self.item.label = f"Cancel #{job_id}"

    async def run(self, interaction: discord.Interaction, bot: WanBot) -> None:
        assert interaction.guild_id is not None
        job = await bot.services.jobs.cancel(interaction.guild_id, self.job_id, interaction.user.id)
        await send_ephemeral(interaction, f"Cancelled job #{job.id}. Your {job.price} credits are back.")


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    RerollButton,
    RemixButton,
    ReportButton,
    DeleteButton,
    CancelButton,
)


def result_buttons(job: Job) -> list[discord.ui.Item[Any]]:
    """A result's buttons, for a classic view or a card's action row alike."""
    return [RerollButton(job.id), RemixButton(job.id), ReportButton(job.id), DeleteButton(job.id)]


def result_view(job: Job) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in result_buttons(job):
        view.add_item(item)
    return view
