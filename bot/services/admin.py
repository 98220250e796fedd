"""What a server's admins change: allowances, refill period, budget, channels, admin channel.

Every change is one transaction that also writes its audit-log entry (who, what, when), plus a log
line naming the admin. Permission is checked by the
caller (the /wan-admin cog checks Manage Server itself on every command, whatever Discord's
command permissions say); this service validates values and writes them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.domain.clock import Clock
from bot.domain.moderation import AuditAction
from bot.domain.periods import Period
from bot.errors import InvalidRequest, NotFound
from bot.services.allowances import GuildAllowancePolicy, PolicyView
from bot.services.budget import BudgetGuard, BudgetStatus
from bot.storage.audit import AuditRepository
from bot.storage.db import Database, Tx
from bot.storage.settings import SettingsRepository

log = logging.getLogger(__name__)

MAX_ALLOWANCE = 1_000_000
MAX_BUDGET = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ServerOverview:
    policy: PolicyView
    budget: BudgetStatus
    channels: list[int]
    admin_channel_id: int | None


class AdminService:
    def __init__(
        self,
        db: Database,
        settings: SettingsRepository,
        policy: GuildAllowancePolicy,
        budget: BudgetGuard,
        clock: Clock,
        audit: AuditRepository,
    ) -> None:
        self.db = db
        self.audit = audit
        self.settings = settings
        self.policy = policy
        self.budget = budget
        self.clock = clock

    async def _record(self, tx: Tx, guild_id: int, actor_id: int, at: datetime, detail: str) -> None:
        await self.audit.record_in(
            tx, guild_id=guild_id, actor_id=actor_id, action=AuditAction.SETTING, at=at, detail=detail
        )

    async def overview(self, guild_id: int) -> ServerOverview:
        now = self.clock()
        async with self.db.reading() as tx:
            policy = await self.policy.view_in(tx, guild_id)
            budget = await self.budget.server_status_in(tx, guild_id, now, detailed=True)
            settings = await self.settings.get_in(tx, guild_id)
        channels = await self.settings.allowed_channels(guild_id)
        return ServerOverview(policy, budget, channels, settings.admin_channel_id)

    # --- allowances --------------------------------------------------------------------------

    async def set_default_allowance(self, guild_id: int, amount: int, *, actor_id: int) -> None:
        _check_amount(amount, MAX_ALLOWANCE, "The allowance")
        now = self.clock()
        async with self.db.transaction() as tx:
            await self.settings.update_in(tx, guild_id, at=now, actor_id=actor_id, default_allowance=amount)
            await self._record(tx, guild_id, actor_id, now, f"default allowance {amount}")
        log.info("default allowance set guild=%d amount=%d by=%d", guild_id, amount, actor_id)

    async def set_role_allowance(self, guild_id: int, role_id: int, amount: int, *, actor_id: int) -> None:
        _check_amount(amount, MAX_ALLOWANCE, "The allowance")
        now = self.clock()
        async with self.db.transaction() as tx:
            await self.settings.set_role_allowance_in(tx, guild_id, role_id, amount, at=now, actor_id=actor_id)
            await self._record(tx, guild_id, actor_id, now, f"allowance of <@&{role_id}> {amount}")
        log.info("role allowance set guild=%d role=%d amount=%d by=%d", guild_id, role_id, amount, actor_id)

    async def clear_role_allowance(self, guild_id: int, role_id: int, *, actor_id: int) -> None:
        async with self.db.transaction() as tx:
            removed = await self.settings.clear_role_allowance_in(tx, guild_id, role_id)
            if not removed:
                raise NotFound("That role has no allowance of its own; members with it get the default already.")
            await self._record(tx, guild_id, actor_id, self.clock(), f"allowance of <@&{role_id}> cleared")
        log.info("role allowance cleared guild=%d role=%d by=%d", guild_id, role_id, actor_id)

    async def set_refill_period(self, guild_id: int, period: Period, *, actor_id: int) -> None:
        now = self.clock()
        async with self.db.transaction() as tx:
            await self.settings.update_in(tx, guild_id, at=now, actor_id=actor_id, refill_period=period)
            await self._record(tx, guild_id, actor_id, now, f"refill period {period}")
        log.info("refill period set guild=%d period=%s by=%d", guild_id, period, actor_id)

    # --- budget ------------------------------------------------------------------------------

    async def set_budget(self, guild_id: int, cap: int, period: Period | None, *, actor_id: int) -> BudgetStatus:
        """Set the server's cap (0 removes it) and, optionally, the period it counts over."""
        _check_amount(cap, MAX_BUDGET, "The budget")
        fields: dict[str, object] = {"budget_cap": cap}
        if period is not None:
            fields["budget_period"] = period
        now = self.clock()
        async with self.db.transaction() as tx:
            await self.settings.update_in(tx, guild_id, at=now, actor_id=actor_id, **fields)
            status = await self.budget.server_status_in(tx, guild_id, now, detailed=True)
            shown = f"{cap} {status.period}" if cap else "no cap"
            await self._record(tx, guild_id, actor_id, now, f"budget {shown}")
        log.info("budget set guild=%d cap=%d period=%s by=%d", guild_id, cap, status.period, actor_id)
        return status

    # --- channels ----------------------------------------------------------------------------

    async def add_channel(self, guild_id: int, channel_id: int, *, actor_id: int) -> list[int]:
        now = self.clock()
        async with self.db.transaction() as tx:
            added = await self.settings.add_channel_in(tx, guild_id, channel_id, at=now, actor_id=actor_id)
            if not added:
                raise InvalidRequest("That channel is already allowed.")
            await self._record(tx, guild_id, actor_id, now, f"allowed channel <#{channel_id}> added")
        log.info("channel allowed guild=%d channel=%d by=%d", guild_id, channel_id, actor_id)
        return await self.settings.allowed_channels(guild_id)

    async def remove_channel(self, guild_id: int, channel_id: int, *, actor_id: int) -> list[int]:
        async with self.db.transaction() as tx:
            removed = await self.settings.remove_channel_in(tx, guild_id, channel_id)
            if not removed:
                raise NotFound("That channel is not in the allowed list; `/wan-admin channels list` shows it.")
            await self._record(tx, guild_id, actor_id, self.clock(), f"allowed channel <#{channel_id}> removed")
        log.info("channel disallowed guild=%d channel=%d by=%d", guild_id, channel_id, actor_id)
        return await self.settings.allowed_channels(guild_id)

    async def allowed_channels(self, guild_id: int) -> list[int]:
        return await self.settings.allowed_channels(guild_id)

    async def set_admin_channel(self, guild_id: int, channel_id: int | None, *, actor_id: int) -> None:
        now = self.clock()
        async with self.db.transaction() as tx:
            await self.settings.update_in(tx, guild_id, at=now, actor_id=actor_id, admin_channel_id=channel_id)
            shown = f"<#{channel_id}>" if channel_id else "none"
            await self._record(tx, guild_id, actor_id, now, f"admin channel {shown}")
        log.info("admin channel set guild=%d channel=%s by=%d", guild_id, channel_id, actor_id)

    # --- provider options ------------------------------------------------------------------------

    async def set_public_gallery(self, guild_id: int, on: bool, *, actor_id: int) -> None:
        """wan26ai's "public" flag for this server's next jobs (other providers have none)."""
        now = self.clock()
        async with self.db.transaction() as tx:
            # bool → int: the column is 0/1 on both backends.
            await self.settings.update_in(tx, guild_id, at=now, actor_id=actor_id, public_gallery=int(on))
            await self._record(tx, guild_id, actor_id, now, f"public gallery {'on' if on else 'off'}")
        log.info("public gallery set guild=%d on=%s by=%d", guild_id, on, actor_id)


def _check_amount(amount: int, maximum: int, what: str) -> None:
    if not 0 <= amount <= maximum:
        raise InvalidRequest(f"{what} must be between 0 and {maximum:,} credits.")
