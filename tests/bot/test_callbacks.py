"""Completion callbacks end to end: the real bot on SimCord, its web server on loopback, and the
fake provider posting callbacks to it."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import aiohttp

from bot.domain.models import JobState
from bot.ops.callbacks import sign
from tests.bot.conftest import shown

WEB = {"enabled": True, "host": "127.0.0.1", "port": 0}
CALLBACKS = {"enabled": True}


async def post(url: str, body: bytes = b"{}", headers: dict[str, str] | None = None) -> int:
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status


async def test_a_callback_delivers_before_the_next_poll(world_factory: Any) -> None:
    # No confirm prompt for this 220-credit render: the test is about callbacks.
    async with world_factory(
        "wan26ai", server={"send_callbacks": True}, web=WEB, callbacks=CALLBACKS, credits={"confirm_above": 1000}
    ) as world:
        await world.video(world.alice, duration="10", resolution="1080p")
        await world.env.advance_time(5)
        [create] = world.server.requests_to("generate")
        callback_url = create.json["callback_url"]
        [job] = await world.jobs(world.alice)
        assert job.state is JobState.SUBMITTED and job.callback_token
        assert callback_url == f"{world.bot.ops_server.local_url}/callbacks/wan26ai/{job.callback_token}"

        # The first poll would come after the expected render time (minutes); the provider finishes now.
        world.server.finish(job.provider_task_id)
        await world.server.drain_callbacks()
        await world.env.settle()
        [attempt] = world.server.callbacks
        assert attempt.status == 202
        [posted] = world.results()
        assert shown(posted).content.startswith(f"<@{world.alice.id}>")
        assert len(world.server.requests_to("status")) == 1


async def test_forged_unknown_and_replayed_callbacks_change_nothing(world_factory: Any) -> None:
    async with world_factory("wan26ai", web=WEB, callbacks=CALLBACKS) as world:
        await world.video(world.alice)
        await world.env.advance_time(5)
        [job] = await world.jobs(world.alice)
        base = f"{world.bot.ops_server.local_url}/callbacks/wan26ai/"
        world.server.finish(job.provider_task_id)  # done at the provider: a trusted hint would deliver it

        forged = [
            base + "A" * 32,  # well-formed, unknown
            base + job.callback_token[:-1] + ("x" if job.callback_token[-1] != "x" else "y"),  # one char off
            base + "short",
            base + "..%2F..%2Fhealthz",
        ]
        for url in forged:
            assert await post(url, b'{"data": {"status": "SUCCESS"}}') == 404
        await world.env.settle()
        assert world.server.requests_to("status") == []
        assert world.results() == []
        assert (await world.jobs(world.alice))[0].state is JobState.SUBMITTED

        # The real token works once; after delivery the same callback is a replay.
        assert await post(base + job.callback_token) == 202
        await world.env.settle()
        assert len(world.results()) == 1
        checks = len(world.server.requests_to("status"))
        assert await post(base + job.callback_token) == 404
        await world.env.settle()
        assert len(world.server.requests_to("status")) == checks
        assert len(world.results()) == 1
        assert (await world.balance(world.alice)).available == 500 - 80


async def test_a_callback_for_a_job_still_rendering_is_one_status_check(world_factory: Any) -> None:
    async with world_factory("wan26ai", web=WEB, callbacks=CALLBACKS) as world:
        await world.video(world.alice)
        await world.env.advance_time(5)
        [job] = await world.jobs(world.alice)
        url = f"{world.bot.ops_server.local_url}/callbacks/wan26ai/{job.callback_token}"
        # A burst of deliveries (provider retries, a replay while it renders) makes one check.
        assert [await post(url) for _ in range(3)] == [202, 202, 202]
        await world.env.settle()
        assert len(world.server.requests_to("status")) == 1
        assert world.results() == []
        # Polling still finishes the job: a hint never replaces it.
        await world.env.advance_time(200)
        assert len(world.results()) == 1


async def test_oversized_callback_bodies_are_refused(world_factory: Any) -> None:
    async with world_factory("wan26ai", web=WEB | {"max_body_kb": 1}, callbacks=CALLBACKS) as world:
        await world.video(world.alice)
        await world.env.advance_time(5)
        [job] = await world.jobs(world.alice)
        url = f"{world.bot.ops_server.local_url}/callbacks/wan26ai/{job.callback_token}"
        assert await post(url, b"x" * 4096) == 413
        await world.env.settle()
        assert world.server.requests_to("status") == []


async def test_callbacks_off_by_default_send_no_callback_url(world_factory: Any) -> None:
    async with world_factory("wan26ai") as world:
        await world.video(world.alice)
        await world.env.advance_time(5)
        [create] = world.server.requests_to("generate")
        assert "callback_url" not in create.json
        assert world.bot.ops_server is None


SECRET = "whsec-test-0123456789"


async def test_apimall_webhooks_need_a_valid_signature(world_factory: Any) -> None:
    callbacks = CALLBACKS | {"apimall_webhook_secret": SECRET}
    async with world_factory("apimall", web=WEB, callbacks=callbacks) as world:
        await world.video(world.alice)
        await world.env.advance_time(5)
        [job] = await world.jobs(world.alice)
        [create] = world.server.requests_to("generate")
        assert "callback_url" not in create.json  # apimall webhooks are set per account, not per task
        url = f"{world.bot.ops_server.local_url}/callbacks/apimall"
        world.server.finish(job.provider_task_id)
        body = json.dumps({"event": "task.completed", "data": {"task_id": job.provider_task_id}}).encode()

        refused = [
            {},  # no signature
            {"X-Signature": "sha256=" + "0" * 64},  # wrong
            {"X-Signature": sign("another-secret", body)},  # signed with another key
            {"X-Signature": "not hex at all"},
            {"X-Other": sign(SECRET, body)},  # right value, wrong header
        ]
        for headers in refused:
            assert await post(url, body, headers) == 401
        # A valid signature over another body does not carry over.
        assert await post(url, body.replace(b"completed", b"failed"), {"X-Signature": sign(SECRET, body)}) == 401
        await world.env.settle()
        assert world.server.requests_to("status") == []
        assert world.results() == []

        # Signed, but about a task this bot does not follow: acknowledged, nothing happens.
        other = json.dumps({"task_id": "vid_not_ours"}).encode()
        assert await post(url, other, {"X-Signature": sign(SECRET, other)}) == 200
        # Signed, no task id anywhere.
        junk = b'{"hello": "world"}'
        assert await post(url, junk, {"X-Signature": sign(SECRET, junk)}) == 400
        await world.env.settle()
        assert world.server.requests_to("status") == []

        assert await post(url, body, {"X-Signature": "sha256=" + sign(SECRET, body)}) == 202
        await world.env.settle()
        assert len(world.server.requests_to("status")) == 1
        assert len(world.results()) == 1


async def test_apimall_webhook_with_a_timestamp_header(world_factory: Any) -> None:
    callbacks = CALLBACKS | {"apimall_webhook_secret": SECRET, "apimall_timestamp_header": "X-Timestamp"}
    async with world_factory("apimall", web=WEB, callbacks=callbacks) as world:
        await world.video(world.alice)
        await world.env.advance_time(5)
        [job] = await world.jobs(world.alice)
        url = f"{world.bot.ops_server.local_url}/callbacks/apimall"
        world.server.finish(job.provider_task_id)
        body = json.dumps({"taskId": job.provider_task_id}).encode()
        stale = str(int(time.time()) - 3600)
        assert await post(url, body, {"X-Signature": sign(SECRET, body, stale), "X-Timestamp": stale}) == 401
        assert await post(url, body, {"X-Signature": sign(SECRET, body)}) == 401  # timestamp required
        now = str(int(time.time()))
        assert await post(url, body, {"X-Signature": sign(SECRET, body, now), "X-Timestamp": now}) == 202
        await world.env.settle()
        assert len(world.results()) == 1


async def test_apimall_webhooks_without_a_secret_are_all_refused(world_factory: Any) -> None:
    async with world_factory("apimall", web=WEB, callbacks=CALLBACKS) as world:
        body = b'{"task_id": "vid_000001"}'
        url = f"{world.bot.ops_server.local_url}/callbacks/apimall"
        assert await post(url, body, {"X-Signature": sign("", body)}) == 404


async def test_a_port_in_use_costs_only_the_server(world_factory: Any, caplog: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with world_factory("wan26ai", web=WEB | {"port": port}, callbacks=CALLBACKS) as world:
            assert world.bot.ops_server is None
            assert "web server could not listen" in caplog.text
            await world.video(world.alice)
            await world.env.advance_time(5)
            assert "callback_url" not in world.server.requests_to("generate")[0].json
            await world.env.advance_time(200)
            assert len(world.results()) == 1  # polling carries on


async def test_a_callback_after_a_restart_still_finds_its_job(world_factory: Any) -> None:
    async with world_factory("wan26ai", web=WEB, callbacks=CALLBACKS) as world:
        await world.video(world.alice)
        await world.env.advance_time(5)
        [job] = await world.jobs(world.alice)
        await world.restart()  # the token lives in SQLite, not in the process
        world.server.finish(job.provider_task_id)
        assert await post(f"{world.bot.ops_server.local_url}/callbacks/wan26ai/{job.callback_token}") == 202
        await world.env.settle()
        assert len(world.results()) == 1
