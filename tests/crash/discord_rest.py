"""A loopback fake of the Discord REST endpoints the bot uses, as its own process, shared by
every bot process of a multi-process crash run (``tests/crash/multi.py``).

    python -m tests.crash.discord_rest --dir D --guild G --channel C

It serves the HTTP login (``/users/@me``, ``/oauth2/applications/@me``), channel lookup,
message create (multipart with files too, and ``enforce_nonce``: a second create with a nonce
seen in the last few minutes returns the first message, as Discord does), history, fetch, edit
and delete. Every accepted create, edit and delete is appended to ``discord.jsonl`` (the format
``tests.crash.discord_log`` reads) and fsync'd before the answer goes out, so the checks see
what Discord holds even if the bot that posted died before it heard back. This process is never
killed, so it keeps its state in memory as well.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.discord_api import APPLICATION_ID, BOT_USER_ID

TOKEN = "discord-token-for-crash-runs.0123456789"
_NONCE_WINDOW_SECONDS = 300.0
_DISCORD_EPOCH_MS = 1_420_070_400_000


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only when the content type is exactly application/json.
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


def _user(user_id: int, name: str) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": True,
    }


class FakeDiscordRest:
    def __init__(self, log: Path, guild_id: int, channel_id: int) -> None:
        self.log = log
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.messages: dict[int, dict[str, Any]] = {}
        self.nonces: dict[str, tuple[float, int]] = {}
        self._last_id = 0
        self._lock = asyncio.Lock()

    def _snowflake(self) -> int:
        # Time-ordered like Discord's, and strictly increasing within this process.
        candidate = (int(time.time() * 1000) - _DISCORD_EPOCH_MS) << 22
        self._last_id = max(candidate, self._last_id + 1)
        return self._last_id

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        api = "/api/v10"
        app.router.add_get(f"{api}/users/@me", self._me)
        app.router.add_get(f"{api}/oauth2/applications/@me", self._application)
        app.router.add_get(f"{api}/channels/{{channel}}", self._channel)
        app.router.add_post(f"{api}/channels/{{channel}}/messages", self._create)
        app.router.add_get(f"{api}/channels/{{channel}}/messages", self._history)
        app.router.add_get(f"{api}/channels/{{channel}}/messages/{{message}}", self._fetch)
        app.router.add_patch(f"{api}/channels/{{channel}}/messages/{{message}}", self._edit)
        app.router.add_delete(f"{api}/channels/{{channel}}/messages/{{message}}", self._delete)
        app.router.add_get("/_harness/state", self._state)
        return app

    # --- the log --------------------------------------------------------------------------------

    def _write(self, op: str, message: dict[str, Any], run: int) -> None:
        entry = {
            "op": op,
            "id": message["id"],
            "channel_id": message["channel_id"],
            "author_id": message["author"]["id"],
            "content": message["content"],
            "timestamp": message["timestamp"],
            "embeds": message["embeds"],
            "components": message["components"],
            "attachments": len(message["attachments"]),
            "flags": message["flags"],
            "run": run,
        }
        with self.log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    # --- endpoints ------------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {TOKEN}"

    async def _me(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        return _json(_user(BOT_USER_ID, "wanbot"))

    async def _application(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": str(APPLICATION_ID),
                "name": "wanbot",
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": _user(1, "owner"),
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    def _known(self, request: web.Request) -> bool:
        return request.match_info["channel"] == str(self.channel_id)

    @staticmethod
    def _unknown_channel() -> web.Response:
        return _json({"message": "Unknown Channel", "code": 10003}, status=404)

    async def _channel(self, request: web.Request) -> web.Response:
        if not self._known(request):
            return self._unknown_channel()
        return _json(
            {
                "id": str(self.channel_id),
                "type": 0,
                "guild_id": str(self.guild_id),
                "name": "videos",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
            }
        )

    async def _payload(self, request: web.Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if not request.content_type.startswith("multipart/"):
            return await request.json(), []
        payload: dict[str, Any] = {}
        files: list[dict[str, Any]] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.name == "payload_json":
                payload = json.loads(await part.text())  # type: ignore[union-attr]
            else:
                data = await part.read()  # type: ignore[union-attr]
                files.append({"filename": part.filename or "file", "size": len(data)})  # type: ignore[union-attr]
        return payload, files

    def _message(self, message_id: int, payload: dict[str, Any], files: list[dict[str, Any]]) -> dict[str, Any]:
        attachments = [
            {
                "id": str(message_id + index + 1),
                "filename": file["filename"],
                "size": file["size"],
                "url": f"https://cdn.example/{message_id}/{file['filename']}",
                "proxy_url": f"https://cdn.example/{message_id}/{file['filename']}",
            }
            for index, file in enumerate(files)
        ]
        return {
            "id": str(message_id),
            "channel_id": str(self.channel_id),
            "guild_id": str(self.guild_id),
            "author": _user(BOT_USER_ID, "wanbot"),
            "content": payload.get("content") or "",
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": payload.get("embeds") or [],
            "components": payload.get("components") or [],
            "flags": int(payload.get("flags") or 0),
            "pinned": False,
            "type": 0,
            "nonce": payload.get("nonce"),
        }

    async def _create(self, request: web.Request) -> web.Response:
        if not self._known(request):
            return self._unknown_channel()
        payload, files = await self._payload(request)
        run = int(request.headers.get("X-Crash-Run", "0"))
        async with self._lock:
            nonce = payload.get("nonce")
            now = time.monotonic()
            if nonce and payload.get("enforce_nonce"):
                seen = self.nonces.get(str(nonce))
                if seen is not None and now - seen[0] < _NONCE_WINDOW_SECONDS and seen[1] in self.messages:
                    return _json(self.messages[seen[1]])
            message_id = self._snowflake()
            message = self._message(message_id, payload, files)
            self._write("create", message, run)
            self.messages[message_id] = message
            if nonce:
                self.nonces[str(nonce)] = (now, message_id)
        return _json(message)

    async def _history(self, request: web.Request) -> web.Response:
        if not self._known(request):
            return self._unknown_channel()
        limit = min(100, int(request.query.get("limit", "50")))
        ids = sorted(self.messages, reverse=True)
        if "before" in request.query:
            ids = [mid for mid in ids if mid < int(request.query["before"])]
        if "after" in request.query:
            # Discord gives the oldest after ``after`` first; discord.py reverses as it needs.
            ids = sorted(mid for mid in ids if mid > int(request.query["after"]))
        return _json([self.messages[mid] for mid in ids[:limit]])

    def _find(self, request: web.Request) -> dict[str, Any] | None:
        if not self._known(request):
            return None
        return self.messages.get(int(request.match_info["message"]))

    async def _fetch(self, request: web.Request) -> web.Response:
        message = self._find(request)
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        return _json(message)

    async def _edit(self, request: web.Request) -> web.Response:
        message = self._find(request)
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        payload, _files = await self._payload(request)
        async with self._lock:
            for key in ("content", "embeds", "components", "flags"):
                if key in payload:
                    message[key] = payload[key] if payload[key] is not None else ([] if key != "content" else "")
            message["edited_timestamp"] = datetime.now(UTC).isoformat()
            self._write("edit", message, int(request.headers.get("X-Crash-Run", "0")))
        return _json(message)

    async def _delete(self, request: web.Request) -> web.Response:
        message = self._find(request)
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        async with self._lock:
            self.messages.pop(int(message["id"]), None)
            self._write("delete", message, int(request.headers.get("X-Crash-Run", "0")))
        return web.Response(status=204)

    async def _state(self, request: web.Request) -> web.Response:
        return _json({"messages": len(self.messages)})


async def serve(args: argparse.Namespace) -> None:
    fake = FakeDiscordRest(args.dir / "discord.jsonl", args.guild, args.channel)
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    port_file = args.dir / "discord.port"
    temporary = port_file.with_suffix(".tmp")
    temporary.write_text(str(sock.getsockname()[1]))
    temporary.replace(port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--guild", type=int, required=True)
    parser.add_argument("--channel", type=int, required=True)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
