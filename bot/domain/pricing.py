"""What a video costs and when the member confirms first: the price table and the confirm rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from bot.domain.models import Duration, Resolution, VideoSpec


class PriceList(Protocol):
    def price(self, resolution: Resolution, duration: Duration) -> int: ...


@dataclass(frozen=True, slots=True)
class Prices:
    """Credits per render, by resolution and duration."""

    table: Mapping[Resolution, Mapping[Duration, int]]

    def price(self, resolution: Resolution, duration: Duration) -> int:
        return self.table[resolution][duration]


# The wan26ai table, so one credit is one provider credit (the operator may set another in the config).
DEFAULT_PRICES = Prices(
    MappingProxyType(
        {
            "720p": MappingProxyType({5: 80, 10: 150, 15: 220}),
            "1080p": MappingProxyType({5: 115, 10: 220, 15: 325}),
        }
    )
)


def price_of(prices: PriceList, spec: VideoSpec) -> int:
    return prices.price(spec.resolution, spec.duration)


def needs_confirmation(price: int, confirm_above: int | None) -> bool:
    """A job priced above the threshold is only quoted until the member presses Confirm."""
    return confirm_above is not None and price > confirm_above
