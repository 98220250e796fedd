"""Credit packs bought in Discord's store: credit exactly once, then let the caller consume; take back on revoke.

Order matters: the credit is committed before Discord is told the entitlement is consumed. A crash
between the two leaves an unconsumed entitlement whose credit is already in the ledger; the consume
is retried (and on start-up), and a replayed event finds the credit and pays nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.config import StoreConfig
from bot.domain.clock import Clock
from bot.storage.db import Database, buyer_lock, member_lock
from bot.storage.ledger import LedgerRepository
from bot.storage.purchases import Purchase, PurchaseRepository

log = logging.getLogger(__name__)


# Credits belong to one server; a purchase made outside any server has none, so it lands where the
# buyer next uses the bot: the first server they show they are a member of after buying.
OUTSIDE_REASON = "bought outside a server: paid where you next used the bot"


@dataclass(frozen=True, slots=True)
class EntitlementSeen:
    """What the bot needs from a Discord entitlement (Discord-free)."""

    entitlement_id: int
    sku_id: int
    user_id: int
    guild_id: int | None


@dataclass(frozen=True, slots=True)
class PurchaseOutcome:
    purchase: Purchase | None  # None: not one of the configured packs
    credited_now: bool  # this call paid it (False on a replay, or while it waits for a server)

    @property
    def needs_consume(self) -> bool:
        p = self.purchase
        return p is not None and p.credited_at is not None and p.consumed_at is None and p.revoked_at is None


@dataclass(frozen=True, slots=True)
class StoreTotals:
    packs: int  # bought and kept, in the period asked for
    credits: int
    shortfall: int  # all time: credits refunded by Discord after the member had spent them


@dataclass(frozen=True, slots=True)
class RevokeOutcome:
    purchase: Purchase
    taken: int
    shortfall: int


class StoreService:
    def __init__(self, db: Database, repo: PurchaseRepository, config: StoreConfig, clock: Clock) -> None:
        self.db = db
        self.repo = repo
        self.config = config
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return bool(self.config.packs)

    @property
    def sku_ids(self) -> list[int]:
        return [int(key) for key in self.config.packs]

    async def bought(self, seen: EntitlementSeen) -> PurchaseOutcome:
        """A purchase (new or replayed). Bought in a server: paid there now. Bought outside one:
        kept until the buyer next uses the bot in a server (``credit_pending``)."""
        credits = self.config.credits_for(seen.sku_id)
        if credits is None:
            return PurchaseOutcome(None, False)
        now = self.clock()
        async with self.db.transaction() as tx:
            # The ledger's unique index already pays an entitlement once; the lock keeps a revoke
            # arriving at the same moment on another process from reading it as never paid.
            locks = [buyer_lock(seen.user_id)]
            if seen.guild_id is not None:
                locks.append(member_lock(seen.guild_id, seen.user_id))
            await tx.lock(*locks)
            purchase = await self.repo.ensure(
                tx,
                entitlement_id=seen.entitlement_id,
                sku_id=seen.sku_id,
                user_id=seen.user_id,
                bought_in=seen.guild_id,
                credits=credits,
                at=now,
            )
            paid = False
            if purchase.credited_at is None and purchase.revoked_at is None and seen.guild_id is not None:
                paid = await self.repo.credit(tx, purchase, seen.guild_id, now, "store pack bought in this server")
        after = await self.repo.get(seen.entitlement_id)
        if paid:
            log.info(
                "store pack credited entitlement=%d sku=%d member=%d guild=%s credits=%d",
                seen.entitlement_id,
                seen.sku_id,
                seen.user_id,
                seen.guild_id,
                credits,
            )
        return PurchaseOutcome(after, paid)

    async def has_pending(self, user_id: int) -> bool:
        return self.enabled and await self.repo.has_pending(user_id)

    async def credit_pending(self, user_id: int, guild_id: int) -> list[Purchase]:
        """Packs this member bought outside a server, paid into ``guild_id`` (where they use the bot now)."""
        now = self.clock()
        paid: list[Purchase] = []
        async with self.db.transaction() as tx:
            await tx.lock(buyer_lock(user_id), member_lock(guild_id, user_id))
            for purchase in await self.repo.pending_for(tx, user_id):
                if await self.repo.credit(tx, purchase, guild_id, now, OUTSIDE_REASON):
                    paid.append(purchase)
        for purchase in paid:
            log.info(
                "store pack bought outside a server credited entitlement=%d member=%d guild=%d credits=%d",
                purchase.entitlement_id,
                user_id,
                guild_id,
                purchase.credits,
            )
        return paid

    async def totals(self, guild_id: int, since: datetime) -> StoreTotals:
        packs, credits, shortfall = await self.repo.totals(guild_id, since)
        return StoreTotals(packs=packs, credits=credits, shortfall=shortfall)

    async def consumed(self, entitlement_id: int) -> None:
        await self.repo.mark_consumed(entitlement_id, self.clock())

    async def unconsumed(self) -> list[Purchase]:
        return await self.repo.unconsumed()

    async def revoked(self, seen: EntitlementSeen) -> RevokeOutcome | None:
        """Refunded or revoked: take the pack back from the balance it went to, never below zero;
        what the member already spent is recorded as a shortfall for admins. Once per entitlement."""
        credits = self.config.credits_for(seen.sku_id)
        if credits is None:
            return None
        now = self.clock()
        async with self.db.transaction() as tx:
            # Under the buyer lock the purchase cannot be credited while this decides what to take.
            await tx.lock(buyer_lock(seen.user_id))
            # Recorded even if never seen before, so a late or replayed create pays nothing.
            purchase = await self.repo.ensure(
                tx,
                entitlement_id=seen.entitlement_id,
                sku_id=seen.sku_id,
                user_id=seen.user_id,
                bought_in=seen.guild_id,
                credits=credits,
                at=now,
            )
            if purchase.revoked_at is not None:
                return None
            taken = 0
            if purchase.credited_at is not None and purchase.guild_id is not None:
                # The balance decides what is taken back: no hold may spend it meanwhile.
                await tx.lock(member_lock(purchase.guild_id, purchase.user_id))
                balance = await LedgerRepository.balance_in(tx, purchase.guild_id, purchase.user_id)
                taken = min(purchase.credits, max(0, balance.available))
            shortfall = purchase.credits - taken if purchase.credited_at is not None else 0
            await self.repo.take_back(tx, purchase, taken, shortfall, now)
        log.info(
            "store pack revoked entitlement=%d member=%d guild=%s taken=%d shortfall=%d",
            seen.entitlement_id,
            seen.user_id,
            purchase.guild_id,
            taken,
            shortfall,
        )
        return RevokeOutcome(purchase, taken, shortfall)
