"""Who gets how many credits: the server's allowance policy, read from SQLite with config defaults.

- A member with roles that have an allowance gets the highest of those; otherwise the server's
  default. A role's allowance replaces the default (it may be lower, to restrict a role), and the
  highest role wins when a member has several.
- The refill period is the server's, else the config's.
- Anti-farming: accounts younger than ``min_account_age_days`` and members who joined less than
  ``min_membership_days`` ago get nothing until they qualify (grants still work).

Read inside the refill's transaction, so a refill is written with the policy it was computed from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import CreditsConfig
from bot.domain.models import GuildSettings
from bot.domain.periods import Period
from bot.services.credits import Allowance, MemberContext
from bot.storage.db import Tx
from bot.storage.settings import SettingsRepository


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A server's effective policy, for /wan-admin and /credits."""

    default_allowance: int
    refill_period: Period
    role_allowances: dict[int, int]
    min_account_age_days: float
    min_membership_days: float


class GuildAllowancePolicy:
    def __init__(self, settings: SettingsRepository, defaults: CreditsConfig) -> None:
        self.settings = settings
        self.defaults = defaults

    def effective(self, settings: GuildSettings, roles: dict[int, int]) -> PolicyView:
        return PolicyView(
            default_allowance=(
                settings.default_allowance
                if settings.default_allowance is not None
                else self.defaults.default_allowance
            ),
            refill_period=settings.refill_period or self.defaults.refill_period,
            role_allowances=roles,
            min_account_age_days=self.defaults.min_account_age_days,
            min_membership_days=self.defaults.min_membership_days,
        )

    async def view_in(self, tx: Tx, guild_id: int) -> PolicyView:
        settings = await self.settings.cached_in(tx, guild_id)
        return self.effective(settings, await self.settings.cached_role_allowances_in(tx, guild_id))

    async def allowance_in(self, tx: Tx, guild_id: int, member: MemberContext, now: datetime) -> Allowance:
        policy = await self.view_in(tx, guild_id)
        amount, source = policy.default_allowance, "default"
        roles = policy.role_allowances
        matching = [(roles[role_id], role_id) for role_id in member.role_ids if role_id in roles]
        if matching:
            # Highest amount wins; between equal amounts the lower role id, so the source is stable.
            best_amount, best_role = max(matching, key=lambda pair: (pair[0], -pair[1]))
            amount, source = best_amount, f"role:{best_role}"
        qualifies_at = self.qualifies_at(member)
        if qualifies_at is not None and qualifies_at > now:
            return Allowance(amount=0, period=policy.refill_period, source=source, qualifies_at=qualifies_at)
        return Allowance(amount=amount, period=policy.refill_period, source=source)

    def qualifies_at(self, member: MemberContext) -> datetime | None:
        """When the member is old enough for an allowance; None when no minimum applies.

        An unknown join or creation time counts as old enough: the bot does not punish what it
        cannot see (a member outside a server has no join time).
        """
        moments: list[datetime] = []
        if self.defaults.min_account_age_days > 0 and member.account_created_at is not None:
            moments.append(member.account_created_at + timedelta(days=self.defaults.min_account_age_days))
        if self.defaults.min_membership_days > 0 and member.joined_at is not None:
            moments.append(member.joined_at + timedelta(days=self.defaults.min_membership_days))
        return max(moments) if moments else None
