"""``python -m bot migrate-to URL``: move this bot's SQLite database into an empty PostgreSQL one.

Stop the bot first (the SQLite file is opened as the bot opens it, so a running bot makes this
refuse). Both databases are migrated to this bot's schema, then ``bot.storage.copy`` copies
every table in one transaction and checks the ledger sums; the SQLite file is left as it was.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.cli.storage import StorageError, open_database
from bot.config import Config
from bot.storage.db import Database, is_postgres_url


async def migrate_to(config: Config, url: str, out: Callable[[str], None], err: Callable[[str], None]) -> int:
    if not is_postgres_url(url):
        err("Not copied: the target must be a PostgreSQL URL (postgresql://user:password@host/database).")
        return 2
    source_target = config.database.target
    if is_postgres_url(source_target):
        err("Not copied: [database] already points at PostgreSQL; migrate-to copies the SQLite file [database] path.")
        return 2
    from bot.storage.copy import CopyRefused, copy_sqlite_to_postgres
    from bot.storage.postgres import redacted

    source: Database | None = None
    target: Database | None = None
    try:
        source = await open_database(source_target, single_process=True)
        target = await open_database(url)
        report = await copy_sqlite_to_postgres(source, target)
    except (StorageError, CopyRefused) as error:
        err(f"Not copied: {error}.")
        return 1
    finally:
        for db in (source, target):
            if db is not None:
                await db.close()
    total = sum(report.rows.values())
    out(
        f"Copied {total:,} rows in {len(report.rows)} tables from {source_target} to {redacted(url)};"
        f" ledger sums match for {report.ledger_members} members in {report.ledger_servers} servers."
    )
    out("Next: set [database] url to this URL, start the bot, and keep the SQLite file as a backup.")
    return 0
