"""The private answer to an interaction, shared by every feature: within Discord's 3 seconds
(acknowledged first when the work is slow), as a reply, an edit or a follow-up; plus the member's
context and the "can the bot post here?" check that every job-starting command runs first."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import discord

from bot.domain import discord_limits as limits
from bot.errors import UserFacingError
from bot.services.credits import MemberContext
from bot.ui.channels import cannot_post_reason
from bot.ui.context import bot_of

log = logging.getLogger(__name__)

T = TypeVar("T")

# Discord drops an interaction that is not answered within 3 seconds. Checking and holding usually
# takes milliseconds, but a burst of members (or a slow disk) queues that work behind the one SQLite
# connection: past this budget the bot acknowledges first ("thinking…") and edits in the answer.
ANSWER_BUDGET_SECONDS = 1.5


def member_context(user: discord.User | discord.Member) -> MemberContext:
    if isinstance(user, discord.Member):
        return MemberContext(
            member_id=user.id,
            role_ids=tuple(role.id for role in user.roles if not role.is_default()),
            joined_at=user.joined_at,
            account_created_at=user.created_at,
        )
    return MemberContext(member_id=user.id, account_created_at=user.created_at)


async def check_bot_can_post(interaction: discord.Interaction) -> None:
    """Refuse, before anything is held, a channel the finished video could not be posted in.

    Async: in a private thread it asks Discord whether the bot is a member (one short request)."""
    if interaction.guild is None:
        raise UserFacingError("Videos can only be made in a server channel, not in direct messages.")
    bot = bot_of(interaction)
    reason = await cannot_post_reason(bot, interaction.channel, interaction.app_permissions)
    if reason is not None:
        raise UserFacingError(f"I can't post videos in this channel: {reason} Nothing was charged.")


@dataclass(eq=False, slots=True)
class _Pending:
    interaction: discord.Interaction
    deadline: float
    update: bool
    deferring: asyncio.Future[None] | None = None


class _Watchdog:
    """Acknowledges late interactions with ONE timer for all of them, not one per command: a
    burst of 200 members would otherwise mean 200 timers (and, under SimCord, 200 timers walked
    against every pending task). It runs only while some interaction awaits its answer."""

    def __init__(self) -> None:
        self.pending: set[_Pending] = set()
        self.task: asyncio.Task[None] | None = None

    def add(self, entry: _Pending) -> None:
        self.pending.add(entry)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._run())

    def discard(self, entry: _Pending) -> None:
        self.pending.discard(entry)
        if not self.pending and self.task is not None:
            self.task.cancel()  # nothing left to watch: no timer outlives the last command
            self.task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pending:
            now = loop.time()
            for entry in list(self.pending):
                if entry.deferring is None and now >= entry.deadline and not entry.interaction.response.is_done():
                    # Marked before any await, so the command sees it and waits for the defer to land.
                    entry.deferring = asyncio.ensure_future(_defer(entry))
            upcoming = [entry.deadline for entry in self.pending if entry.deferring is None]
            await asyncio.sleep(max(0.0, min(upcoming) - loop.time()) if upcoming else ANSWER_BUDGET_SECONDS)


async def _defer(entry: _Pending) -> None:
    if entry.update:
        await entry.interaction.response.defer()
    else:
        await entry.interaction.response.defer(ephemeral=True, thinking=True)


_watchdogs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = weakref.WeakKeyDictionary()


async def within_deadline(interaction: discord.Interaction, work: Awaitable[T], *, update: bool = False) -> T:
    """Run ``work``; if it is not done within the answer budget, the interaction is acknowledged first.

    ``update``: for a button, whose answer edits the message it sits on, rather than a new reply."""
    if interaction.response.is_done():
        return await work
    loop = asyncio.get_running_loop()
    watchdog = _watchdogs.setdefault(loop, _Watchdog())
    entry = _Pending(interaction, loop.time() + ANSWER_BUDGET_SECONDS, update)
    watchdog.add(entry)
    try:
        return await work
    finally:
        watchdog.discard(entry)
        if entry.deferring is not None:
            # The answer must not race the acknowledgement: wait for it to land (or to fail).
            try:
                await entry.deferring
            except discord.HTTPException:
                log.warning("could not acknowledge a slow interaction in time", exc_info=True)


def is_deferred(interaction: discord.Interaction) -> bool:
    return interaction.response.type in (
        discord.InteractionResponseType.deferred_channel_message,
        discord.InteractionResponseType.deferred_message_update,
    )


async def send_ephemeral(
    interaction: discord.Interaction, content: str, *, view: discord.ui.View | None = None
) -> None:
    """The private answer: a reply, or the edit of a deferred one, or a follow-up after an answer."""
    content = limits.truncate(content, limits.CONTENT)
    response = interaction.response
    if not response.is_done():
        if view is None:
            await response.send_message(content, ephemeral=True)
        else:
            await response.send_message(content, ephemeral=True, view=view)
    elif is_deferred(interaction):
        await interaction.edit_original_response(content=content, view=view)
    elif view is None:
        await interaction.followup.send(content, ephemeral=True)
    else:
        await interaction.followup.send(content, ephemeral=True, view=view)
