"""The "Buy credits" premium buttons shown with /credits when the store is configured."""

from __future__ import annotations

import discord

from bot.services.store import StoreTotals

# A view holds at most 25 buttons.
_MAX_BUTTONS = 25


def buy_view(sku_ids: list[int]) -> discord.ui.View | None:
    """One premium button per configured pack (Discord draws its label and price from the SKU), or None."""
    if not sku_ids:
        return None
    view = discord.ui.View(timeout=None)
    for sku_id in sku_ids[:_MAX_BUTTONS]:
        view.add_item(discord.ui.Button(sku_id=sku_id))
    return view


def purchases_text(totals: StoreTotals) -> str:
    """The /wan-admin stats line for store purchases: their own kind, apart from spending and grants."""
    text = f"**Store purchases** in the same days: **{totals.packs}** packs, **{totals.credits:,}** credits."
    if totals.shortfall:
        text += (
            f" Refunded after being spent: **{totals.shortfall:,}** credits could not be taken back"
            " (balances never go below zero)."
        )
    return text


def shortfall_notice(member_id: int, credits: int, taken: int, shortfall: int) -> str:
    return (
        f"⚠️ A store pack of **{credits:,}** credits bought by <@{member_id}> was refunded or revoked by Discord. "
        f"**{taken:,}** credits were taken back; **{shortfall:,}** had already been spent and could not be "
        "(balances never go below zero). The shortfall is in `/wan-admin stats`."
    )
