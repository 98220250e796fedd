"""``/healthz``: is this bot doing its job right now?

Three checks, each cheap and each a real failure an operator must act on:
  - the database answers a trivial query within a few seconds;
  - the Discord gateway is connected (the bot can receive commands);
  - the job loop finished a tick recently (a stalled loop means no job moves, silently).
Before the first tick the loop counts from start-up, so a bot that just started is healthy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.clock import Clock
from bot.services.runner import RunnerStats
from bot.storage.db import Database

log = logging.getLogger(__name__)

_DB_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "unhealthy", "checks": self.checks}


class HealthChecker:
    def __init__(
        self,
        *,
        db: Database,
        runner_stats: RunnerStats,
        discord_connected: Callable[[], bool],
        clock: Clock,
        max_tick_age_seconds: float,
        started_at: datetime,
        shards: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.db = db
        self.runner_stats = runner_stats
        self.discord_connected = discord_connected
        self.clock = clock
        self.max_tick_age_seconds = max_tick_age_seconds
        self.started_at = started_at
        # Which shards this process runs and which are connected (several processes: README).
        self.shards = shards

    async def check(self) -> Health:
        checks = {
            "database": await self._database(),
            "discord": self._discord(),
            "loop": self._loop(),
        }
        return Health(ok=all(check["ok"] for check in checks.values()), checks=checks)

    async def _database(self) -> dict[str, Any]:
        # The backend, not the target: the endpoint is unauthenticated and a path or host says too much.
        backend = self.db.backend
        try:
            value = await asyncio.wait_for(self.db.fetchval("SELECT 1"), timeout=_DB_TIMEOUT_SECONDS)
        except TimeoutError:
            error_text = f"no answer within {_DB_TIMEOUT_SECONDS:.0f}s"
            return {"ok": False, "backend": backend, "reachable": False, "error": error_text}
        except Exception as error:
            log.warning("health: database check failed", exc_info=True)
            return {"ok": False, "backend": backend, "reachable": False, "error": type(error).__name__}
        return {"ok": value == 1, "backend": backend, "reachable": True}

    def _discord(self) -> dict[str, Any]:
        try:
            connected = bool(self.discord_connected())
        except Exception:
            connected = False
        check: dict[str, Any] = {"ok": connected}
        if self.shards is not None:
            try:
                check["shards"] = self.shards()
            except Exception:  # never let the report break the check
                log.warning("health: shard summary failed", exc_info=True)
        return check

    def _loop(self) -> dict[str, Any]:
        last = self.runner_stats.last_tick_at
        since = last if last is not None else self.started_at
        age = max(0.0, (self.clock() - since).total_seconds())
        return {
            "ok": age <= self.max_tick_age_seconds,
            "last_tick_age_seconds": round(age, 3),
            "max_age_seconds": self.max_tick_age_seconds,
            "ticks": self.runner_stats.ticks,
        }
