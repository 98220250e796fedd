"""A PostgreSQL server for the benchmarks: the one given, or a throwaway cluster started here.

``--pg-dsn URL`` or ``WANBOT_TEST_PG_DSN`` names a server to use as it is. Otherwise, when Debian's
PostgreSQL 15 binaries are present (``WANBOT_PG_BIN`` overrides the folder), a cluster is created
the way ``scripts/_postgres.sh`` does it: unix socket only (``listen_addresses=''``), trust auth,
under a temporary folder removed on exit. Unlike the test suite's cluster, fsync and synchronous
commit stay ON, so a PostgreSQL commit is as durable as the SQLite bench's fsync'd commit.

Each measurement gets a fresh schema (``fresh_schema``), so runs never see each other's rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from tests.backends import DSN_ENV, with_search_path

PG_BIN = Path(os.environ.get("WANBOT_PG_BIN", "/usr/lib/postgresql/15/bin"))
PORT = 54339  # only names the socket file; no TCP port is opened


def dsn_argument(argv: Sequence[str] | None = None) -> str | None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--pg-dsn", default=None)
    args, _ = parser.parse_known_args(argv)
    return args.pg_dsn or os.environ.get(DSN_ENV) or None


def available(argv: Sequence[str] | None = None) -> str:
    """Empty when a server can be had; else one line saying why not."""
    if dsn_argument(argv) or ((PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists()):
        return ""
    return f"no PostgreSQL: no --pg-dsn, no {DSN_ENV}, no binaries in {PG_BIN}"


def _as_postgres(command: list[str]) -> list[str]:
    # initdb refuses to run as root; the throwaway cluster belongs to the postgres user then.
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else command


@contextmanager
def server(argv: Sequence[str] | None = None) -> Iterator[str]:
    """Yield a DSN; a cluster started here is stopped (and its folder removed) on the way out."""
    given = dsn_argument(argv)
    if given:
        yield given
        return
    folder = Path(tempfile.mkdtemp(prefix="wanbot-bench-pg-"))
    data = folder / "data"
    try:
        if os.getuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
            folder.chmod(0o700)
        initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        subprocess.run(  # noqa: S603
            _as_postgres([*initdb, "--locale=C.UTF-8", "--no-sync"]), check=True, capture_output=True
        )
        options = f"-p {PORT} -k {folder} -c listen_addresses='' -c max_connections=200"
        start = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60"]
        subprocess.run(_as_postgres([*start, "-o", options, "start"]), check=True, capture_output=True)  # noqa: S603
        try:
            yield f"postgresql://postgres@/postgres?host={folder}&port={PORT}"
        finally:
            stop = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
            subprocess.run(_as_postgres(stop), check=False, capture_output=True)  # noqa: S603
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fresh_schema(dsn: str) -> str:
    """A new empty schema on the server; returns the URL ``Database.open`` takes for it."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return with_search_path(dsn, schema)


def settings_note(dsn: str) -> str:
    """The server's version and the durability settings the figures depend on."""

    async def read() -> str:
        conn = await asyncpg.connect(dsn)
        try:
            version = await conn.fetchval("SHOW server_version")
            fsync = await conn.fetchval("SHOW fsync")
            sync = await conn.fetchval("SHOW synchronous_commit")
        finally:
            await conn.close()
        return f"PostgreSQL {version}, fsync {fsync}, synchronous_commit {sync}, unix socket"

    return asyncio.run(read())
