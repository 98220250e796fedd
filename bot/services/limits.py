"""Fairness refusals: a member's running jobs, the cooldown between jobs, and allowed channels.

The running-job limit and the cooldown are hold guards: checked inside the hold's transaction,
so two clicks at the same moment cannot both pass. Both count before anything is charged.
"""

from __future__ import annotations

import math
from datetime import datetime

from bot.config import LimitsConfig
from bot.domain import discord_limits
from bot.errors import InvalidRequest, LimitReached
from bot.services.jobs import JobRequest
from bot.storage.db import Tx
from bot.storage.jobs import JobRepository
from bot.storage.settings import SettingsRepository


class FairnessGuard:
    def __init__(self, jobs: JobRepository, limits: LimitsConfig) -> None:
        self.jobs = jobs
        self.limits = limits

    async def check_in(self, tx: Tx, request: JobRequest, price: int, now: datetime) -> None:
        guild_id, member_id = request.guild_id, request.member.member_id
        running, last = await self.jobs.open_count_and_last_accepted_in(tx, guild_id, member_id)
        limit = self.limits.max_running_per_member
        if running >= limit:
            raise LimitReached(
                f"You already have {running} video{'s' if running != 1 else ''} queued or rendering, the most "
                f"one member may have at once ({limit}). Wait for one to finish, or cancel a queued one in "
                "`/jobs`. Nothing was charged."
            )
        cooldown = self.limits.cooldown_seconds
        if cooldown <= 0:
            return
        if last is None:
            return
        wait = cooldown - (now - last).total_seconds()
        if wait > 0:
            raise LimitReached(
                f"Please wait {math.ceil(wait)} more second{'s' if math.ceil(wait) != 1 else ''} before starting "
                f"another video (one every {cooldown:g} s per member). Nothing was charged."
            )


class ChannelCheck:
    """When a server lists allowed channels, /video works only there (and in their threads)."""

    def __init__(self, settings: SettingsRepository) -> None:
        self.settings = settings

    async def check(self, request: JobRequest) -> None:
        allowed = await self.settings.allowed_channels(request.guild_id)
        if not allowed or request.channel_id in allowed or request.parent_channel_id in allowed:
            return
        # A server may list hundreds of channels: name what fits in one Discord message.
        where = discord_limits.fit_lines([f"<#{channel_id}>" for channel_id in allowed], 1500, sep=", ")
        raise InvalidRequest(f"Videos are made in {where} on this server. Use `/video` there. Nothing was charged.")
