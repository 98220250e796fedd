"""The "Buy credits" premium buttons shown with /credits when the store is configured."""

from __future__ import annotations

import discord

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
