"""``python -m bot health``: the Docker HEALTHCHECK. Exit 0 healthy, 1 not, one line either way.

With ``[web] enabled`` it asks the running bot's ``/healthz`` (which covers the database, the job
loop and the gateway); otherwise only the database file can be checked from outside the process.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable

import aiohttp
import asyncpg

from bot.config import Config
from bot.storage.db import Database, is_postgres_url
from bot.storage.postgres import redacted

Write = Callable[[str], None]

_TIMEOUT_SECONDS = 5
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - mapped, never bound


async def run_health(config: Config, out: Write, err: Write) -> int:
    web = config.web
    if web.enabled and web.port:
        host = _ANY_ADDRESS.get(web.host.strip(), web.host.strip())
        url = f"http://[{host}]:{web.port}/healthz" if ":" in host else f"http://{host}:{web.port}/healthz"
        return await _ask(url, out, err)
    return await _database(config.database.target, out, err)


async def _ask(url: str, out: Write, err: Write) -> int:
    try:
        timeout = aiohttp.ClientTimeout(total=_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            body = await response.text()
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        err(f"unhealthy: no answer from {url} ({type(error).__name__})")
        return 1
    if response.status != 200:
        err(f"unhealthy: {url} answered HTTP {response.status}: {body.strip()[:300]}")
        return 1
    out(f"healthy: {url} answered 200")
    return 0


async def _database(target: str, out: Write, err: Write) -> int:
    """The SQLite file, or the PostgreSQL URL ([database] url), shown without its password."""
    shown = redacted(target) if is_postgres_url(target) else target
    try:
        db = await asyncio.wait_for(Database.open_existing(target), _TIMEOUT_SECONDS)
    except (FileNotFoundError, RuntimeError, sqlite3.Error, OSError, TimeoutError) as error:
        err(f"unhealthy: database {shown}: {error}")
        return 1
    except asyncpg.PostgresError as error:  # a refused login, an unknown database
        err(f"unhealthy: database {shown}: {type(error).__name__}")
        return 1
    path = db.target
    try:
        version = await db.schema_version()
    finally:
        await db.close()
    out(f"healthy: database {path} readable, schema version {version}")
    return 0
