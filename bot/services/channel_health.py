"""A channel whose deliveries keep failing stops taking jobs.

Every job there would be rendered (the operator pays the provider) and then not posted (the
member gets the credits back), so no cap would ever count it. After ``PAUSE_AFTER_FAILURES``
deliveries given up in a row in one channel, ``/video`` there is refused at no cost and the
server's admins are told once. A successful post there, or ``/wan-admin channels resume``,
lets the channel take jobs again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.domain.clock import Clock
from bot.domain.moderation import AuditAction
from bot.errors import InvalidRequest
from bot.services.notices import AdminNotices, Notice
from bot.storage.audit import AuditRepository
from bot.storage.channel_health import ChannelHealthRepository
from bot.storage.db import Database, Tx

if TYPE_CHECKING:
    from bot.services.jobs import JobRequest

log = logging.getLogger(__name__)

# Three in a row: one failure can be a deleted message or a blip Discord had; three jobs from
# different moments all failing means nobody is seeing what the operator pays for.
PAUSE_AFTER_FAILURES = 3


class ChannelPaused(InvalidRequest):
    """Refused because deliveries keep failing here; ``notice`` tells the admins once."""

    def __init__(self, message: str, *, notice: Notice) -> None:
        super().__init__(message)
        self.notice = notice


class ChannelHealth:
    def __init__(
        self, db: Database, repo: ChannelHealthRepository, audit: AuditRepository, notices: AdminNotices, clock: Clock
    ) -> None:
        self.db = db
        self.repo = repo
        self.audit = audit
        self.notices = notices
        self.clock = clock

    async def paused(self, guild_id: int, channel_id: int) -> Notice | None:
        """The admins' notice when the channel is paused, None while it takes jobs."""
        return _notice(guild_id, channel_id, *await self.repo.failures_since_last_post(guild_id, channel_id))

    async def check_in(self, tx: Tx, request: JobRequest, price: int, now: datetime) -> None:
        """A hold guard: refuses new jobs in a paused channel (the unit rolls back: nothing is held).

        Decided inside the accept's own unit of work rather than before it: three indexed reads
        there cost less than a unit of their own, which in a burst waits for a group commit.
        """
        failures = await self.repo.failures_since_last_post_in(tx, request.guild_id, request.channel_id)
        notice = _notice(request.guild_id, request.channel_id, *failures)
        if notice is None:
            return
        raise ChannelPaused(
            "Videos are paused in this channel: the last videos made here could not be posted (I lost access "
            "to it). An admin can fix my permissions and resume it with `/wan-admin channels resume`. "
            "Use another channel for now. Nothing was charged.",
            notice=notice,
        )

    async def delivery_failed(self, guild_id: int, channel_id: int) -> None:
        """After a delivery was given up: if that paused the channel, tell the admins (once)."""
        notice = await self.paused(guild_id, channel_id)
        if notice is not None:
            log.warning("channel %d of guild=%d paused after failed deliveries", channel_id, guild_id)
            await self.notices.tell_once(notice)

    async def resume(self, guild_id: int, channel_id: int, *, actor_id: int) -> bool:
        """Forgive the failures so far (recorded in the audit log). False when it was not paused."""
        was_paused = await self.paused(guild_id, channel_id) is not None
        now = self.clock()
        async with self.db.transaction() as tx:
            await self.repo.resume_in(tx, guild_id, channel_id, now)
            await self.audit.record_in(
                tx,
                guild_id=guild_id,
                actor_id=actor_id,
                action=AuditAction.SETTING,
                at=now,
                detail=f"<#{channel_id}> resumed after failed deliveries",
            )
        return was_paused


def _notice(guild_id: int, channel_id: int, failures: int, stretch: str) -> Notice | None:
    if failures < PAUSE_AFTER_FAILURES:
        return None
    text = (
        f"⚠️ The last {failures} finished videos in <#{channel_id}> could not be posted there (I lost access, "
        "the channel was deleted, or the thread was archived or locked), so `/video` is paused there: the "
        "provider would be paid for videos nobody sees. Fix my permissions in that channel, then run "
        f"`/wan-admin channels resume channel:<#{channel_id}>`. (This message comes once per pause.)"
    )
    return Notice(guild_id, f"channel_paused:{channel_id}", stretch, text)
