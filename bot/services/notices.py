"""Telling a server's admins about something once, in their admin channel, however often it happens.

A marker row per (server, kind, period) is claimed before the message goes out, so concurrent
refusals produce one message; it is given back when the message could not be sent (no channel
access, Discord down), so a later occasion tries again. Servers without an admin channel are
not told at all (the log still is), and nothing is marked until they set one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.domain.clock import Clock
from bot.domain.periods import period_key
from bot.errors import UserFacingError
from bot.storage.settings import SettingsRepository

if TYPE_CHECKING:
    from bot.services.jobs import JobRequest

log = logging.getLogger(__name__)

_PROVIDER_TEXT = {
    "provider_out_of_credits": (
        "⚠️ The bot's video provider account is **out of credits** (the provider answered 402), so new "
        "videos fail and members get their credits back. Tell the bot's operator to top up the account."
    ),
    "provider_auth": (
        "⚠️ The video provider **rejected the bot's API key** (the provider answered 401/403), so new "
        "videos fail and members get their credits back. Tell the bot's operator to check the key."
    ),
}


@dataclass(frozen=True, slots=True)
class Notice:
    guild_id: int
    kind: str  # what happened, e.g. "budget:server"
    period: str  # told once per this key, e.g. "2026-11"
    text: str


class NoticeSink(Protocol):
    async def send(self, guild_id: int, channel_id: int, text: str) -> bool:
        """Post ``text`` in the channel; True when it was posted."""
        ...


class AdminNotices:
    """Implements ``OperatorAlerts`` for the runner, and tells admins about reached caps."""

    def __init__(self, settings: SettingsRepository, clock: Clock, sink: NoticeSink | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.sink = sink

    async def tell_once(self, notice: Notice) -> bool:
        """True when this call told the admins; False when they were told already or cannot be."""
        if self.sink is None:
            return False
        settings = await self.settings.get(notice.guild_id)
        if settings.admin_channel_id is None:
            log.warning("guild=%d has no admin channel; not told about %s", notice.guild_id, notice.kind)
            return False
        if not await self.settings.claim_notice(notice.guild_id, notice.kind, notice.period, self.clock()):
            return False
        try:
            sent = await self.sink.send(notice.guild_id, settings.admin_channel_id, notice.text)
        except Exception:
            log.warning("could not tell guild=%d about %s", notice.guild_id, notice.kind, exc_info=True)
            sent = False
        if not sent:
            await self.settings.release_notice(notice.guild_id, notice.kind, notice.period)
        return sent

    async def refused(self, request: JobRequest, error: UserFacingError) -> None:
        """A refusal that carries a notice (a reached budget cap) tells the admins, once per period."""
        notice = getattr(error, "notice", None)
        if isinstance(notice, Notice):
            await self.tell_once(notice)

    async def provider_problem(self, guild_id: int, code: str, detail: str) -> None:
        # Once a day per server and problem: the operator may fix it and it may break again.
        text = _PROVIDER_TEXT.get(code, f"⚠️ The video provider reports a problem ({code}); tell the bot's operator.")
        await self.tell_once(Notice(guild_id, code, period_key("daily", self.clock()), text))
