"""A loopback stand-in for the three Discord REST calls the command line makes: the HTTP
login (``GET /users/@me``, ``GET /oauth2/applications/@me``) and command registration
(``PUT .../commands``). Point discord.py at it with ``discord.http.Route.BASE``."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

APPLICATION_ID = 1_100_000_000_000_000_001
BOT_USER_ID = 1_100_000_000_000_000_002


@dataclass
class Registration:
    guild_id: int | None
    names: list[str]


@dataclass
class FakeDiscordApi:
    token: str
    registrations: list[Registration] = field(default_factory=list)
    # The servers ``GET /users/@me/guilds`` lists: (id, name).
    guilds: list[tuple[int, str]] = field(default_factory=list)
    bot_public: bool = False
    logins: int = 0
    _runner: web.AppRunner | None = None
    _port: int | None = None

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_get("/api/v10/users/@me", self._me)
        app.router.add_get("/api/v10/oauth2/applications/@me", self._application)
        app.router.add_get("/api/v10/users/@me/guilds", self._guilds)
        app.router.add_put("/api/v10/applications/{app}/commands", self._register)
        app.router.add_put("/api/v10/applications/{app}/guilds/{guild}/commands", self._register)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        self._runner, self._port = runner, sock.getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._port}/api/v10"

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    def _unauthorized(self) -> web.Response:
        return _json({"message": "401: Unauthorized", "code": 0}, status=401)

    async def _me(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        self.logins += 1
        return _json(_user(BOT_USER_ID, "wanbot", bot=True))

    async def _application(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        return _json(
            {
                "id": str(APPLICATION_ID),
                "name": "wanbot",
                "description": "",
                "icon": None,
                "bot_public": self.bot_public,
                "bot_require_code_grant": False,
                "owner": _user(1, "owner"),
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def _guilds(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        return _json(
            [
                {"id": str(guild_id), "name": name, "icon": None, "owner": False, "permissions": "0", "features": []}
                for guild_id, name in self.guilds
            ]
        )

    async def _register(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        commands: list[dict[str, Any]] = await request.json()
        guild = request.match_info.get("guild")
        self.registrations.append(Registration(int(guild) if guild else None, [c["name"] for c in commands]))
        answer = []
        for number, command in enumerate(commands, start=1):
            answer.append(
                {
                    "id": str(APPLICATION_ID + 100 + number),
                    "application_id": str(APPLICATION_ID),
                    "version": "1",
                    "type": command.get("type", 1),
                    "name": command["name"],
                    "description": command.get("description", ""),
                    "options": command.get("options", []),
                    "default_member_permissions": command.get("default_member_permissions"),
                    "dm_permission": command.get("dm_permission", True),
                    "nsfw": command.get("nsfw", False),
                    **({"guild_id": guild} if guild else {}),
                }
            )
        return _json(answer)


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only when the content type is exactly application/json.
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


def _user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": None, "avatar": None, "bot": bot}
