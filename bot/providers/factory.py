"""Builds the configured provider. The one place that knows which adapter a config means."""

from __future__ import annotations

import aiohttp

from bot.config import ProviderConfig
from bot.domain.clock import Clock
from bot.providers.apimall import ApimallProvider
from bot.providers.base import Provider
from bot.providers.sandbox import SandboxProvider
from bot.providers.wan26ai import Wan26aiProvider


def build_provider(
    config: ProviderConfig, session: aiohttp.ClientSession, clock: Clock, *, log_bodies: bool = False
) -> Provider:
    kind = config.effective_kind
    if kind == "sandbox":
        return SandboxProvider(clock=clock, render_seconds=config.sandbox_render_seconds)
    common = {
        "base_url": config.effective_base_url,
        "api_key": config.api_key,
        "timeout": config.request_timeout_seconds,
        "log_bodies": log_bodies,
    }
    if kind == "wan26ai":
        return Wan26aiProvider(session, **common)  # type: ignore[arg-type]
    return ApimallProvider(session, **common)  # type: ignore[arg-type]
