"""Base classes of the persistent buttons: the id they act on is parsed from the custom_id, "who may
press" is the item's own ``interaction_check`` (discord.py's ``examples/views/dynamic_counter.py``),
and any error becomes the one private reply of ``bot.ui.errors``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.models import Job
from bot.ui import custom_ids
from bot.ui.context import bot_of
from bot.ui.errors import report_error
from bot.ui.permissions import require_moderator

if TYPE_CHECKING:
    from bot.app import WanBot

Button = discord.ui.Button[discord.ui.View]


class CheckedButton(discord.ui.DynamicItem[Button], template=custom_ids.UNREGISTERED_TEMPLATE):
    """Refuses a press privately, before the callback runs, when ``may_press`` raises. Never registered."""

    moderators_only = False

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        try:
            await self.may_press(interaction, bot_of(interaction))
        except Exception as error:
            await report_error(interaction, error)
            return False
        return True

    async def may_press(self, interaction: discord.Interaction, bot: WanBot) -> None:
        """Raise (NotPermitted, NotFound…) when this member may not press the button."""
        if self.moderators_only:
            require_moderator(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self.run(interaction, bot_of(interaction))
        except Exception as error:
            await report_error(interaction, error)

    async def run(self, interaction: discord.Interaction, bot: WanBot) -> None:
        raise NotImplementedError


class JobButton(CheckedButton, template=custom_ids.job_template("_base")):
    """A button that acts on one job (``wan:<action>:<job id>``). Never registered itself."""

    action: str = ""
    label: str = ""
    emoji: str = ""
    style = discord.ButtonStyle.secondary

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=self.label,
                emoji=self.emoji,
                style=self.style,
                custom_id=custom_ids.job_action(self.action, job_id),
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> JobButton:
        return cls(int(match["job_id"]))

    async def job(self, interaction: discord.Interaction, bot: WanBot) -> Job:
        assert interaction.guild_id is not None
        return await bot.services.jobs.get_in_guild(interaction.guild_id, self.job_id)
