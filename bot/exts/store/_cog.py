"""Credit packs from Discord's store: entitlement events in, credits out, consumes retried until done.

Off unless ``[store] packs`` is configured: then no listener does anything and no button shows.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands, tasks

from bot.exts.store._views import shortfall_notice
from bot.services.notices import Notice
from bot.services.store import EntitlementSeen

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)

# Discord's answers to a consume that mean "nothing left to do".
_ALREADY_CONSUMED = 40022
# How often credited-but-unconsumed entitlements are retried (one indexed query when there are none).
RETRY_SECONDS = 60.0


def _seen(entitlement: discord.Entitlement) -> EntitlementSeen | None:
    if entitlement.user_id is None:
        # A pack is credited to the member who bought it; without one there is nobody to pay.
        log.warning("store: entitlement=%d names no buyer; ignored", entitlement.id)
        return None
    return EntitlementSeen(
        entitlement_id=entitlement.id,
        sku_id=entitlement.sku_id,
        user_id=entitlement.user_id,
        guild_id=entitlement.guild_id,
    )


class StoreCog(commands.Cog):
    def __init__(self, bot: WanBot) -> None:
        self.bot = bot
        self.retry.change_interval(seconds=RETRY_SECONDS)
        self._reconciled = False

    @property
    def _enabled(self) -> bool:
        return self.bot.services.store.enabled

    async def cog_load(self) -> None:
        if self._enabled:
            self.retry.start()

    async def cog_unload(self) -> None:
        self.retry.cancel()

    @commands.Cog.listener()
    async def on_entitlement_create(self, entitlement: discord.Entitlement) -> None:
        if self._enabled:
            await self._bought(entitlement)

    @commands.Cog.listener()
    async def on_entitlement_update(self, entitlement: discord.Entitlement) -> None:
        if not self._enabled:
            return
        ends_at = entitlement.ends_at
        if entitlement.deleted or (ends_at is not None and ends_at <= discord.utils.utcnow()):
            await self._revoked(entitlement)

    @commands.Cog.listener()
    async def on_entitlement_delete(self, entitlement: discord.Entitlement) -> None:
        if self._enabled:
            await self._revoked(entitlement)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Every interaction lists the member's unconsumed entitlements: a pack bought outside a
        server (or one whose event was missed) is paid here, the server the member is using now."""
        if not self._enabled or interaction.guild_id is None:
            return
        store = self.bot.services.store
        ours = [e for e in interaction.entitlements if store.config.credits_for(e.sku_id) is not None]
        if not ours:
            return
        try:
            for entitlement in ours:
                await self._bought(entitlement)
            for purchase in await store.credit_pending(interaction.user.id, interaction.guild_id):
                await self._consume(purchase.entitlement_id)
        except Exception:
            log.exception("store: could not settle the entitlements of member=%d", interaction.user.id)

    async def _bought(self, entitlement: discord.Entitlement) -> None:
        seen = _seen(entitlement)
        if seen is None:
            return
        outcome = await self.bot.services.store.bought(seen)
        if outcome.needs_consume:
            await self._consume(entitlement.id)

    async def _revoked(self, entitlement: discord.Entitlement) -> None:
        seen = _seen(entitlement)
        outcome = None if seen is None else await self.bot.services.store.revoked(seen)
        if outcome is None or not outcome.shortfall:
            return
        purchase = outcome.purchase
        guild_id = purchase.guild_id
        if guild_id is None:
            return
        log.warning(
            "store pack revoked after its credits were spent entitlement=%d member=%d shortfall=%d",
            purchase.entitlement_id,
            purchase.user_id,
            outcome.shortfall,
        )
        await self.bot.services.notices.tell_once(
            Notice(
                guild_id=guild_id,
                kind=f"store-shortfall:{purchase.entitlement_id}",
                period="once",
                text=shortfall_notice(purchase.user_id, purchase.credits, outcome.taken, outcome.shortfall),
            )
        )

    async def _consume(self, entitlement_id: int) -> bool:
        """Tell Discord the pack was delivered. Only ever after its credit is committed."""
        application_id = self.bot.application_id
        if application_id is None:
            return False
        try:
            await self.bot.http.consume_entitlement(application_id, entitlement_id)
        except discord.HTTPException as error:
            if error.code != _ALREADY_CONSUMED:
                # Retried by ``retry``; the credit is already in the ledger and is never paid twice.
                log.warning("store: consume failed entitlement=%d status=%s; will retry", entitlement_id, error.status)
                return False
        await self.bot.services.store.consumed(entitlement_id)
        return True

    async def _reconcile(self) -> None:
        """On start-up: entitlements bought or revoked while the bot was away."""
        store = self.bot.services.store
        async for entitlement in self.bot.entitlements(
            limit=None, skus=[discord.Object(s) for s in store.sku_ids], exclude_deleted=False
        ):
            if entitlement.deleted:
                await self._revoked(entitlement)
            elif not entitlement.consumed:
                await self._bought(entitlement)

    @tasks.loop(seconds=60)
    async def retry(self) -> None:
        if not self._reconciled:
            try:
                await self._reconcile()
                self._reconciled = True
            except discord.HTTPException:
                log.warning("store: could not list entitlements at start-up; will retry", exc_info=True)
        for purchase in await self.bot.services.store.unconsumed():
            await self._consume(purchase.entitlement_id)

    @retry.before_loop
    async def _wait_until_ready(self) -> None:
        await self.bot.wait_until_ready()

    @retry.error
    async def _retry_error(self, error: BaseException) -> None:
        log.exception("store retry failed", exc_info=error)
        if not self.retry.is_running():
            self.retry.restart()
