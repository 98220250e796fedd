"""``python -m bot health`` (the Docker HEALTHCHECK): the web server's /healthz, else the database."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.storage.db import Database
from tests.cli.conftest import Cli, write_config
from tests.providers.conftest import closed_port_url


async def test_without_the_web_server_the_database_is_checked(tmp_path: Path, cli: Cli) -> None:
    path = write_config(tmp_path)
    result = await cli("health", "--config", str(path))
    assert result.code == 1 and "unhealthy: database" in result.err and "no database file" in result.err
    assert not (tmp_path / "wanbot.sqlite3").exists()  # health never creates one
    await (await Database.open(tmp_path / "wanbot.sqlite3")).close()
    result = await cli("health", "--config", str(path))
    assert result.code == 0 and "healthy: database" in result.out


async def test_with_the_web_server_healthz_is_asked(tmp_path: Path, cli: Cli) -> None:
    answers = {"status": 200}

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": answers["status"] == 200}, status=answers["status"])

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        path = write_config(tmp_path, f'[web]\nenabled = true\nhost = "0.0.0.0"\nport = {port}\n')
        result = await cli("health", "--config", str(path))
        assert result.code == 0 and f"http://127.0.0.1:{port}/healthz answered 200" in result.out
        answers["status"] = 503
        result = await cli("health", "--config", str(path))
        assert result.code == 1 and "answered HTTP 503" in result.err
    finally:
        await runner.cleanup()
    closed = int(closed_port_url().rsplit(":", 1)[1])
    path = write_config(tmp_path, f"[web]\nenabled = true\nport = {closed}\n")
    result = await cli("health", "--config", str(path))
    assert result.code == 1 and "unhealthy: no answer from" in result.err
