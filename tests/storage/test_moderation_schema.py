"""The moderation schema's own guarantees, enforced by SQLite rather than by care."""

from __future__ import annotations

import pytest

from bot.storage.db import Database, IntegrityError


async def test_a_review_cannot_be_decided_without_a_decider(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO jobs (guild_id, channel_id, member_id, mode, prompt, duration, resolution, price, state,"
            " provider, idempotency_key, accepted_at) VALUES (1, 2, 3, 'text-to-video', 'p', 5, '720p', 80,"
            " 'delivered', 'sandbox', 'k', 0)"
        )
        await tx.execute("INSERT INTO reviews (job_id, guild_id, channel_id, created_at) VALUES (1, 1, 9, 0)")
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await tx.execute("UPDATE reviews SET state = 'approved' WHERE job_id = 1")


async def test_review_mode_needs_a_review_channel(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO moderation_settings (guild_id, review_enabled, updated_at) VALUES (1, 1, 0)")


async def test_one_open_report_per_job_and_one_vote_per_member(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO jobs (guild_id, channel_id, member_id, mode, prompt, duration, resolution, price, state,"
            " provider, idempotency_key, accepted_at) VALUES (1, 2, 3, 'text-to-video', 'p', 5, '720p', 80,"
            " 'delivered', 'sandbox', 'k', 0)"
        )
        await tx.execute(
            "INSERT INTO reports (guild_id, job_id, channel_id, message_id, created_at) VALUES (1, 1, 2, 4, 0)"
        )
        await tx.execute("INSERT INTO report_votes (report_id, member_id, created_at) VALUES (1, 7, 0)")
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO reports (guild_id, job_id, channel_id, message_id, created_at) VALUES (1, 1, 2, 4, 0)"
            )
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO report_votes (report_id, member_id, created_at) VALUES (1, 7, 1)")
