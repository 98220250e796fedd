"""Budget caps: credits spent per period, per server and across all servers.

Checked as a hold guard, inside the transaction that writes the hold: on SQLite transactions
are serialized (one asyncio lock, BEGIN IMMEDIATE across processes), on PostgreSQL the spend is
read under an advisory lock per budget, so the spend read here cannot change before this job's
hold is written, and concurrent jobs can never cross a cap together. Spend is what the operator's
provider account pays (see ``bot.storage.spend``): a job counts from its hold, before the provider
is paid, and keeps counting if the provider made the render, whether the member kept the credits
or got them back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.config import BudgetConfig
from bot.domain.models import GuildSettings
from bot.domain.periods import Period, next_refill, period_key, period_start
from bot.errors import LimitReached
from bot.services.jobs import JobRequest
from bot.services.notices import Notice
from bot.storage.db import GLOBAL_BUDGET_LOCK, Tx, server_budget_lock
from bot.storage.settings import SettingsRepository
from bot.storage.spend import SpendRepository

log = logging.getLogger(__name__)

Scope = Literal["server", "global"]

_PHRASE: dict[str, str] = {"daily": "today", "weekly": "this week", "monthly": "this month", "never": "in total"}


def period_phrase(period: Period) -> str:
    return _PHRASE[period]


def when_text(moment: datetime | None) -> str:
    """Plain UTC text: services speak no Discord markup."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "never"


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    scope: Scope
    cap: int  # 0 = no cap
    period: Period
    spent: int
    resets_at: datetime | None
    key: str
    # Only in detailed statuses (what admins are shown): credits of counted jobs members have back,
    # and what the provider reported charging, in its own credits (None: it never said).
    given_back: int = 0
    provider_charged: int | None = None

    @property
    def capped(self) -> bool:
        return self.cap > 0

    @property
    def left(self) -> int | None:
        return max(0, self.cap - self.spent) if self.capped else None


class CapReached(LimitReached):
    """A budget cap refuses the job; ``notice`` is what the server's admins are told, once per period."""

    def __init__(self, message: str, *, notice: Notice) -> None:
        super().__init__(message)
        self.notice = notice


class BudgetGuard:
    def __init__(self, settings: SettingsRepository, spend: SpendRepository, config: BudgetConfig) -> None:
        self.settings = settings
        self.spend = spend
        self.config = config

    def server_terms(self, settings: GuildSettings) -> tuple[int, Period]:
        cap = settings.budget_cap if settings.budget_cap is not None else self.config.server_cap
        return cap, settings.budget_period or self.config.period

    async def _status_in(
        self, tx: Tx, scope: Scope, guild_id: int | None, cap: int, period: Period, now: datetime
    ) -> BudgetStatus:
        # A running total per period (bot.storage.spend), not a sum over the period's holds.
        spent = await self.spend.running_spent_in(tx, guild_id, period, now) if cap else 0
        return BudgetStatus(scope, cap, period, spent, next_refill(period, now), period_key(period, now))

    async def server_status_in(self, tx: Tx, guild_id: int, now: datetime, *, detailed: bool = False) -> BudgetStatus:
        """The server's cap and spend; ``detailed`` adds what members got back and the provider's figure
        (and the spend even without a cap), for admins to read rather than for the hold's check."""
        cap, period = self.server_terms(await self.settings.cached_in(tx, guild_id))
        if not detailed:
            return await self._status_in(tx, "server", guild_id, cap, period, now)
        summary = await self.spend.summary_in(tx, guild_id, period_start(period, now))
        return BudgetStatus(
            "server",
            cap,
            period,
            summary.spent,
            next_refill(period, now),
            period_key(period, now),
            given_back=summary.given_back,
            provider_charged=summary.provider_charged,
        )

    async def global_status_in(self, tx: Tx, now: datetime) -> BudgetStatus:
        return await self._status_in(tx, "global", None, self.config.global_cap, self.config.period, now)

    async def check_in(self, tx: Tx, request: JobRequest, price: int, now: datetime) -> None:
        # Each spend is read under its lock (server, then global only when a global cap is set;
        # the member's was taken first, see Tx.lock), so processes cannot cross a cap together.
        await tx.lock(server_budget_lock(request.guild_id))
        server = await self.server_status_in(tx, request.guild_id, now)
        if server.capped and server.spent + price > server.cap:
            raise CapReached(_server_refusal(server, price), notice=_server_notice(request.guild_id, server))
        if self.config.global_cap:
            await tx.lock(GLOBAL_BUDGET_LOCK)
        overall = await self.global_status_in(tx, now)
        if overall.capped and overall.spent + price > overall.cap:
            log.warning(
                "global budget reached: %d of %d credits spent %s; refusing a %d-credit job in guild=%d",
                overall.spent,
                overall.cap,
                period_phrase(overall.period),
                price,
                request.guild_id,
            )
            raise CapReached(_global_refusal(overall), notice=_global_notice(request.guild_id, overall))


def _server_refusal(status: BudgetStatus, price: int) -> str:
    left = status.left or 0
    fits = f" Only {left} credits are left in it; a shorter or 720p video may still fit." if left else ""
    resets = f" It resets {when_text(status.resets_at)}." if status.resets_at else ""
    return (
        f"This server's video budget is used up {period_phrase(status.period)}: {status.spent} of {status.cap} "
        f"credits spent, and this video costs {price}.{fits}{resets} An admin can raise it with "
        "`/wan-admin budget`. Nothing was charged."
    )


def _server_notice(guild_id: int, status: BudgetStatus) -> Notice:
    resets = f"until {when_text(status.resets_at)}" if status.resets_at else "until it is raised"
    text = (
        f"⚠️ This server reached its video budget {period_phrase(status.period)} ({status.spent} of "
        f"{status.cap} credits). New videos that do not fit are refused {resets}. Raise it with "
        "`/wan-admin budget`. (This message comes once per budget period.)"
    )
    return Notice(guild_id, "budget:server", status.key, text)


def _global_refusal(status: BudgetStatus) -> str:
    resets = f" until {when_text(status.resets_at)}" if status.resets_at else ""
    return (
        f"The bot's overall video budget is used up {period_phrase(status.period)}, so new videos cannot "
        f"start{resets}. This is the bot operator's limit, not this server's. Nothing was charged."
    )


def _global_notice(guild_id: int, status: BudgetStatus) -> Notice:
    resets = f" until {when_text(status.resets_at)}" if status.resets_at else ""
    text = (
        f"⚠️ The bot's overall budget across all its servers is used up {period_phrase(status.period)}, so "
        f"videos are refused here too{resets}. It is set by the bot's operator (`[budget] global_cap`), "
        "not by this server. (This message comes once per budget period.)"
    )
    return Notice(guild_id, "budget:global", status.key, text)
