"""The one "why?" form moderators fill in (Remove this video, Reject this video): an optional
reason of at most ``REASON_MAX`` characters, moderators only, handed to the caller's action."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from bot.ui.errors import report_error
from bot.ui.permissions import require_moderator

REASON_MAX = 500

OnReason = Callable[[discord.Interaction, str], Awaitable[None]]


class ReasonModal(discord.ui.Modal):
    def __init__(self, *, title: str, label: str, on_reason: OnReason) -> None:
        super().__init__(title=title, timeout=900)
        self._on_reason = on_reason
        self.reason: discord.ui.TextInput[ReasonModal] = discord.ui.TextInput(
            label=label, style=discord.TextStyle.paragraph, required=False, max_length=REASON_MAX
        )
        self.add_item(self.reason)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        try:
            require_moderator(interaction)
            await self._on_reason(interaction, self.reason.value)
        except Exception as error:
            await report_error(interaction, error)
