"""/healthz and /metrics on the bot's web server, with the real bot on SimCord."""

from __future__ import annotations

from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

WEB = {"enabled": True, "host": "127.0.0.1", "port": 0, "max_tick_age_seconds": 60}


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def healthz(world: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"{world.bot.ops_server.local_url}/healthz") as answer:
        return answer.status, await answer.json()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by (name, sorted labels)."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_healthz_turns_503_when_the_loop_stalls(world_factory: Any) -> None:
    async with world_factory(web=WEB) as world:
        await world.env.advance_time(10)
        status, body = await healthz(world)
        assert status == 200, body
        assert body["status"] == "ok"
        assert {name: check["ok"] for name, check in body["checks"].items()} == {
            "database": True,
            "discord": True,
            "loop": True,
        }
        assert body["checks"]["loop"]["ticks"] >= 1

        # The loop stops ticking (as if stuck); a minute later the bot says so.
        world.bot.get_cog("RunnerCog").loop.cancel()
        await world.env.advance_time(30)
        assert (await healthz(world))[0] == 200
        await world.env.advance_time(40)
        status, body = await healthz(world)
        assert status == 503
        assert body["status"] == "unhealthy"
        assert body["checks"]["loop"]["ok"] is False and body["checks"]["loop"]["last_tick_age_seconds"] >= 60
        assert body["checks"]["database"]["ok"] is True


async def test_healthz_reports_a_closed_database(world_factory: Any) -> None:
    async with world_factory(web=WEB) as world:
        await world.env.advance_time(5)
        db = world.bot.db
        await db.close()
        try:
            status, body = await healthz(world)
            assert status == 503 and body["checks"]["database"]["ok"] is False
        finally:
            world.bot.db = None  # already closed; the fixture must not close it twice


async def test_metrics_parse_and_move_after_a_job(world_factory: Any) -> None:
    async with world_factory("wan26ai", web=WEB) as world:
        url = f"{world.bot.ops_server.local_url}/metrics"
        status, content_type, text = await get(url)
        assert status == 200 and content_type.startswith("text/plain")
        before = samples(text)
        assert before[("wanbot_jobs", (("state", "delivered"),))] == 0
        assert before[("wanbot_credits_settled_total", ())] == 0

        await world.video(world.alice)  # 5 s at 720p: 80 credits
        await world.env.advance_time(5)
        held = samples((await get(url))[2])
        assert held[("wanbot_credits_held", ())] == 80
        assert held[("wanbot_jobs", (("state", "submitted"),))] == 1

        world.server.inject("status", status=500)
        await world.env.advance_time(200)
        assert len(world.results()) == 1
        after = samples((await get(url))[2])
        assert after[("wanbot_jobs", (("state", "delivered"),))] == 1
        assert after[("wanbot_credits_held", ())] == 0
        assert after[("wanbot_credits_settled_total", ())] == 80
        assert after[("wanbot_credits_released_total", ())] == 0
        submit = (("operation", "submit"), ("provider", "wan26ai"))
        check = (("operation", "status"), ("provider", "wan26ai"))
        assert after[("wanbot_provider_request_seconds_count", submit)] == 1
        assert after[("wanbot_provider_request_seconds_count", check)] >= 2
        assert after[("wanbot_provider_errors_total", (*check[:1], ("provider", "wan26ai"), ("status", "500")))] == 1
        assert after[("wanbot_delivery_seconds_count", ())] == 1
        assert after[("wanbot_loop_ticks_total", ())] > before[("wanbot_loop_ticks_total", ())]


async def test_healthz_reports_a_lost_gateway(world_factory: Any) -> None:
    async with world_factory(web=WEB) as world:
        await world.env.advance_time(5)
        world.bot.ws.open = False  # the gateway connection dropped
        status, body = await healthz(world)
        assert status == 503 and body["checks"]["discord"]["ok"] is False and body["checks"]["loop"]["ok"] is True
        world.bot.ws.open = True
        assert (await healthz(world))[0] == 200


async def test_healthz_names_the_database_backend_and_this_process_shards(world_factory: Any) -> None:
    async with world_factory(web=WEB) as world:
        await world.env.advance_time(5)
        status, body = await healthz(world)
        assert status == 200, body
        database = body["checks"]["database"]
        assert database["backend"] == world.bot.db.backend and database["reachable"] is True
        assert body["checks"]["discord"]["shards"] == {"count": 1, "ids": [0], "connected": [0]}
        await world.bot.db.close()
        try:
            _status, body = await healthz(world)
            assert body["checks"]["database"]["reachable"] is False
        finally:
            world.bot.db = None
