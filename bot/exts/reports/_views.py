"""Reports and removals in Discord: the moderators' notice (with Remove and Dismiss), the count
kept on it, and the one path every removal of a result message takes.

The Report button itself sits on the result message (``bot.exts.video._buttons``) and calls
``report_result`` here; this module imports nothing from ``buttons``, so both can use it.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.models import Job
from bot.domain.moderation import Report, ReportState
from bot.errors import Conflict
from bot.services.events import DeliveryError
from bot.services.reports import RemovalOutcome
from bot.ui import card, custom_ids, modrender
from bot.ui.answers import send_ephemeral
from bot.ui.channels import custom_ids as custom_ids_on
from bot.ui.channels import delete_message, post_channel
from bot.ui.items import CheckedButton

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)

Button = discord.ui.Button[discord.ui.View]


def result_job_id(bot: WanBot, message: discord.Message) -> int | None:
    """The job a result message shows, or None if it is not one of the bot's results."""
    if bot.user is None or message.author.id != bot.user.id:
        return None
    for custom_id in custom_ids_on(message):
        job_id = custom_ids.result_job_id(custom_id)
        if job_id is not None:
            return job_id
    return None


# --- reporting ------------------------------------------------------------------------------


async def report_result(interaction: discord.Interaction, bot: WanBot, job_id: int) -> None:
    """A member pressed Report on a public result."""
    assert interaction.guild_id is not None and interaction.channel_id is not None
    message = interaction.message
    assert message is not None
    outcome = await bot.services.reports.report(
        interaction.guild_id,
        job_id,
        member_id=interaction.user.id,
        channel_id=interaction.channel_id,
        message_id=message.id,
    )
    if not outcome.counted:
        await send_ephemeral(interaction, "You already reported this video; the moderators have it. Thank you.")
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    if outcome.created:
        await _post_notice(bot, outcome.job, outcome.report)
    else:
        await _refresh_notice(bot, outcome.job, outcome.report)
    await interaction.followup.send("Thank you: the moderators will look at this video.", ephemeral=True)


async def _post_notice(bot: WanBot, job: Job, report: Report) -> None:
    settings = await bot.services.moderation.settings(report.guild_id)
    channel_id = settings.notice_channel_id
    if channel_id is None:
        # Recorded all the same: it counts in /wan-mod history, and a later report posts a notice.
        log.warning("report=%d on job=%d: no moderators' channel is set in guild=%d", report.id, job.id, job.guild_id)
        return
    try:
        channel = await post_channel(bot, channel_id)
        notice = await channel.send(**card.send(bot.config.delivery.result_style, _notice_shown(job, report)))
    except (discord.HTTPException, DeliveryError):
        log.warning("report=%d: could not post the notice in channel=%d", report.id, channel_id, exc_info=True)
        return
    stored = await bot.services.reports.set_notice(report.id, notice.channel.id, notice.id)
    if stored.votes != report.votes:
        # Someone else reported while the notice was on its way: show their vote too.
        await _refresh_notice(bot, job, stored)


async def _refresh_notice(bot: WanBot, job: Job, report: Report) -> None:
    """Edit the existing notice's count; post one if the first attempt never made it."""
    if report.notice_channel_id is None or report.notice_message_id is None:
        await _post_notice(bot, job, report)
        return
    try:
        channel = await post_channel(bot, report.notice_channel_id)
        # Fetched first: a notice is edited in the style it was posted in, whatever the config says now.
        notice = await channel.fetch_message(report.notice_message_id)
        await notice.edit(**card.edit(card.style_of(notice, "classic"), _notice_shown(job, report)))
    except (discord.HTTPException, DeliveryError):
        log.warning("report=%d: could not update the notice", report.id, exc_info=True)


async def _close_notice(bot: WanBot, job: Job, report: Report, verb: str, moderator_id: int) -> None:
    if report.notice_channel_id is None or report.notice_message_id is None:
        return
    closed = _notice_shown(job, report, head=modrender.report_closed_text(job, report, verb, moderator_id))
    try:
        channel = await post_channel(bot, report.notice_channel_id)
        notice = await channel.fetch_message(report.notice_message_id)
        await notice.edit(**card.edit(card.style_of(notice, "classic"), closed))  # no buttons: it is handled
    except (discord.HTTPException, DeliveryError):
        log.warning("report=%d: could not update the notice", report.id, exc_info=True)


# --- removal --------------------------------------------------------------------------------


async def remove_result(
    bot: WanBot,
    interaction: discord.Interaction,
    job_id: int,
    *,
    channel_id: int,
    message_id: int,
    reason: str | None = None,
) -> RemovalOutcome:
    """Delete a result message and record it (and close the job's open report, if any)."""
    assert interaction.guild_id is not None
    await delete_message(bot, channel_id, message_id)
    outcome = await bot.services.reports.record_removal(
        interaction.guild_id,
        job_id,
        actor_id=interaction.user.id,
        channel_id=channel_id,
        message_id=message_id,
        reason=reason,
    )
    if outcome.closed_report is not None:
        await _close_notice(bot, outcome.job, outcome.closed_report, "video removed", interaction.user.id)
    return outcome


class _ReportButton(CheckedButton, template=custom_ids.report_template("_base")):
    """Buttons on a moderators' notice, acting on one report. Never registered itself."""

    action: str = ""
    label: str = ""
    style = discord.ButtonStyle.secondary
    moderators_only = True

    def __init__(self, report_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=self.label, style=self.style, custom_id=custom_ids.report_action(self.action, report_id)
            )
        )
        self.report_id = report_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> _ReportButton:
        return cls(int(match["report_id"]))

    async def report(self, interaction: discord.Interaction, bot: WanBot) -> Report:
        assert interaction.guild_id is not None
        return await bot.services.reports.get(interaction.guild_id, self.report_id)


class RemoveReportedButton(_ReportButton, template=custom_ids.report_template("remove")):
    action, label = "remove", "Remove video"
    style = discord.ButtonStyle.danger

    async def run(self, interaction: discord.Interaction, bot: WanBot) -> None:
        report = await self.report(interaction, bot)
        if report.state is not ReportState.OPEN:
            verb = "dismissed" if report.state is ReportState.DISMISSED else "handled"
            raise Conflict(f"This report was already {verb} by <@{report.closed_by}>.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await remove_result(
            bot, interaction, report.job_id, channel_id=report.channel_id, message_id=report.message_id
        )
        if outcome.closed_report is None:
            # A dismissal won the race; the video is removed all the same, so say so on the notice.
            await _close_notice(bot, outcome.job, report, "video removed", interaction.user.id)
        await interaction.followup.send(f"Removed the video of job #{report.job_id}.", ephemeral=True)


class DismissReportButton(_ReportButton, template=custom_ids.report_template("dismiss")):
    action, label = "dismiss", "Dismiss"

    async def run(self, interaction: discord.Interaction, bot: WanBot) -> None:
        assert interaction.guild_id is not None
        report = await bot.services.reports.dismiss(interaction.guild_id, self.report_id, actor_id=interaction.user.id)
        job = await bot.services.jobs.get(report.job_id)
        closed = card.Shown(modrender.report_closed_text(job, report, "dismissed", interaction.user.id))
        await interaction.response.edit_message(**card.edit(card.style_of(interaction.message, "classic"), closed))


def _notice_shown(job: Job, report: Report, *, head: str | None = None) -> card.Shown:
    """The moderators' notice; with ``head`` (the closing line) it has no buttons any more."""
    text, embed = modrender.report_notice(job, report)
    buttons = [RemoveReportedButton(report.id), DismissReportButton(report.id)] if head is None else []
    return card.Shown(head or text, embed, prompt=job.spec.prompt, buttons=buttons)


REPORT_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (RemoveReportedButton, DismissReportButton)
