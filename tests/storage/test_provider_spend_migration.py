"""Migration 0005 marks which existing jobs the provider account paid for, so caps count them."""

from __future__ import annotations

from pathlib import Path

from bot.storage.db import Database, bundled_migrations
from tests.backends import Backend

# (state, provider_task_id, error_code) → provider_billed after the upgrade
CASES = [
    ("delivered", "t1", None, 1),
    ("failed", "t2", "delivery_failed", 1),  # rendered, not posted: paid
    ("timed_out", "t3", "timeout", 1),  # still at the provider when given up: paid at create
    ("failed", "t4", "render_failed", 0),  # the provider refunds failed renders
    ("refused", "t5", "refused", 0),
    ("failed", "t6", "task_not_found", 0),
    ("failed", None, "submit_unconfirmed", 1),  # may have made a task
    ("cancelled", None, "cancelled", 0),
    ("failed", None, "provider_busy", 0),
]


async def test_existing_jobs_are_marked_by_what_the_provider_charged(tmp_path: Path, backend: Backend) -> None:
    path = backend.target(tmp_path)
    kind = "postgresql" if backend.postgres else "sqlite"
    before = [migration for migration in bundled_migrations(kind) if migration.version < 5]
    old = await Database.open(path, migrations=before)
    try:
        async with old.transaction() as tx:
            for index, (state, task_id, code, _) in enumerate(CASES):
                await tx.execute(
                    "INSERT INTO jobs (guild_id, channel_id, member_id, mode, prompt, duration, resolution, price,"
                    " state, provider, idempotency_key, provider_task_id, accepted_at, error_code)"
                    " VALUES (1, 2, 3, 'text-to-video', 'p', 5, '720p', 80, ?, 'wan26ai', ?, ?, 0, ?)",
                    (state, f"key-{index}", task_id, code),
                )
    finally:
        await old.close()
    db = await Database.open(path)
    try:
        rows = await db.fetchall("SELECT provider_billed, create_unanswered, provider_charged FROM jobs ORDER BY id")
    finally:
        await db.close()
    assert [row["provider_billed"] for row in rows] == [case[3] for case in CASES]
    assert {(row["create_unanswered"], row["provider_charged"]) for row in rows} == {(0, None)}
