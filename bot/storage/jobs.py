"""Jobs table access. State changes are compare-and-set on the current state, so two actors
(the loop and a cancel, a callback and a poll) can never both move the same job.

Leases: a runner claims a job before stepping it (owner, until, and a fencing epoch the claim
bumps), and passes that epoch to every write of the step (``epoch=``: ``AND lease_epoch = ?``).
A process that stalled past its lease while another took the job over cannot write over it.
Other actors (a cancel, a moderator) never hold leases: the state compare-and-set guards them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.clock import from_ts, to_ts
from bot.domain.models import Job, JobState, Mode, VideoSpec
from bot.storage.db import Database, Row, Tx, storable_text

_COLUMNS = (
    "id, guild_id, channel_id, member_id, mode, prompt, duration, resolution, image_url, video_url, price,"
    " state, provider, idempotency_key, provider_task_id, submit_attempts, submit_in_flight, check_attempts,"
    " next_check_at, accepted_at, submitted_at, finished_at, delivered_at, result_url, error_code,"
    " error_message, progress_message_id, progress_edited_at, result_message_id, notified, parent_job_id,"
    " callback_token, provider_billed, provider_charged, provider_refunded, create_unanswered,"
    " lease_owner, lease_until, lease_epoch, interaction_id, upload_limit_bytes"
)
_QUALIFIED_COLUMNS = ", ".join(f"jobs.{name.strip()}" for name in _COLUMNS.split(","))

# A lease is free when nobody holds it or its holder let it run out. On a database only this
# process can use (SQLite under its process lock) every lease is free: its holders are dead.
_LEASE_FREE = "(lease_until IS NULL OR lease_until <= ? OR lease_owner = ?)"
# "Free at" this moment on such a database: later than any lease.
_EVERY_LEASE = 1e18


def _fence(epoch: int | None) -> tuple[str, list[Any]]:
    return ("", []) if epoch is None else (" AND lease_epoch = ?", [epoch])


# Columns a caller may set through ``update``; names never come from input, only from this list.
_UPDATABLE = frozenset(
    {
        "provider_task_id",
        "submit_attempts",
        "submit_in_flight",
        "check_attempts",
        "next_check_at",
        "submitted_at",
        "finished_at",
        "delivered_at",
        "result_url",
        "error_code",
        "error_message",
        "progress_message_id",
        "progress_edited_at",
        "result_message_id",
        "notified",
        "provider_billed",
        "provider_charged",
        "provider_refunded",
        "create_unanswered",
        "lease_owner",
        "lease_until",
    }
)
_TIME_COLUMNS = frozenset(
    {"next_check_at", "submitted_at", "finished_at", "delivered_at", "progress_edited_at", "lease_until"}
)


def _job(row: Row) -> Job:
    accepted = from_ts(row["accepted_at"])
    assert accepted is not None
    return Job(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        member_id=row["member_id"],
        spec=VideoSpec(
            mode=Mode(row["mode"]),
            prompt=row["prompt"],
            duration=row["duration"],
            resolution=row["resolution"],
            image_url=row["image_url"],
            video_url=row["video_url"],
        ),
        price=row["price"],
        state=JobState(row["state"]),
        provider=row["provider"],
        idempotency_key=row["idempotency_key"],
        provider_task_id=row["provider_task_id"],
        submit_attempts=row["submit_attempts"],
        submit_in_flight=bool(row["submit_in_flight"]),
        check_attempts=row["check_attempts"],
        next_check_at=from_ts(row["next_check_at"]),
        accepted_at=accepted,
        submitted_at=from_ts(row["submitted_at"]),
        finished_at=from_ts(row["finished_at"]),
        delivered_at=from_ts(row["delivered_at"]),
        result_url=row["result_url"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        progress_message_id=row["progress_message_id"],
        progress_edited_at=from_ts(row["progress_edited_at"]),
        result_message_id=row["result_message_id"],
        notified=bool(row["notified"]),
        parent_job_id=row["parent_job_id"],
        callback_token=row["callback_token"],
        provider_billed=bool(row["provider_billed"]),
        provider_charged=row["provider_charged"],
        provider_refunded=row["provider_refunded"],
        create_unanswered=bool(row["create_unanswered"]),
        lease_owner=row["lease_owner"],
        lease_until=from_ts(row["lease_until"]),
        lease_epoch=row["lease_epoch"],
        interaction_id=row["interaction_id"],
        upload_limit_bytes=row["upload_limit_bytes"],
    )


def _move(
    job_id: int, from_states: Iterable[JobState], to_state: JobState, epoch: int | None, fields: dict[str, Any]
) -> tuple[str, list[Any]]:
    """The guarded UPDATE of a state change: only from ``from_states``, only under ``epoch``'s claim."""
    allowed = [state.value for state in from_states]
    assignments, values = _encode(fields)
    sets = "state = ?" + (f", {assignments}" if assignments else "")
    placeholders = ", ".join("?" for _ in allowed)
    fence, fence_values = _fence(epoch)
    return (
        f"UPDATE jobs SET {sets} WHERE id = ? AND state IN ({placeholders}){fence}",
        [to_state.value, *values, job_id, *allowed, *fence_values],
    )


def _encode(fields: dict[str, Any]) -> tuple[str, list[Any]]:
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    assignments: list[str] = []
    values: list[Any] = []
    for name, value in fields.items():
        if name in _TIME_COLUMNS and isinstance(value, datetime):
            value = to_ts(value)
        elif isinstance(value, bool):
            value = int(value)
        elif isinstance(value, str):
            value = storable_text(value)  # the runner writes what the provider said
        assignments.append(f"{name} = ?")
        values.append(value)
    return ", ".join(assignments), values


INSERT_JOB_SQL = (
    "INSERT INTO jobs (guild_id, channel_id, member_id, mode, prompt, duration, resolution, image_url,"
    " video_url, price, state, provider, idempotency_key, accepted_at, next_check_at, parent_job_id,"
    " callback_token, interaction_id, upload_limit_bytes)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'accepted', ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job about to be inserted as accepted: built before its unit of work, so the unit only writes it."""

    guild_id: int
    channel_id: int
    member_id: int
    spec: VideoSpec
    price: int
    provider: str
    idempotency_key: str
    accepted_at: datetime
    next_check_at: datetime
    parent_job_id: int | None = None
    callback_token: str | None = None
    interaction_id: int | None = None
    upload_limit_bytes: int | None = None

    def values(self) -> tuple[Any, ...]:
        """The parameters of ``INSERT_JOB_SQL``, in its order."""
        spec = self.spec
        return (
            self.guild_id,
            self.channel_id,
            self.member_id,
            spec.mode.value,
            spec.prompt,
            spec.duration,
            spec.resolution,
            spec.image_url,
            spec.video_url,
            self.price,
            self.provider,
            self.idempotency_key,
            to_ts(self.accepted_at),
            to_ts(self.next_check_at),
            self.parent_job_id,
            self.callback_token,
            self.interaction_id,
            self.upload_limit_bytes,
        )

    def accepted(self, job_id: int) -> Job:
        """The job as reading it back after the insert would give it, without the read."""
        accepted = from_ts(to_ts(self.accepted_at))  # the stored precision, like a read
        assert accepted is not None
        return Job(
            id=job_id,
            guild_id=self.guild_id,
            channel_id=self.channel_id,
            member_id=self.member_id,
            spec=self.spec,
            price=self.price,
            state=JobState.ACCEPTED,
            provider=self.provider,
            idempotency_key=self.idempotency_key,
            provider_task_id=None,
            submit_attempts=0,
            submit_in_flight=False,
            check_attempts=0,
            next_check_at=from_ts(to_ts(self.next_check_at)),
            accepted_at=accepted,
            submitted_at=None,
            finished_at=None,
            delivered_at=None,
            result_url=None,
            error_code=None,
            error_message=None,
            progress_message_id=None,
            progress_edited_at=None,
            result_message_id=None,
            notified=False,
            parent_job_id=self.parent_job_id,
            callback_token=self.callback_token,
            interaction_id=self.interaction_id,
            upload_limit_bytes=self.upload_limit_bytes,
        )


class JobRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def insert_new_in(tx: Tx, new: NewJob) -> int:
        """The new job's id. A second job for the same interaction raises ``IntegrityError``."""
        return await tx.insert(INSERT_JOB_SQL, new.values())

    @staticmethod
    async def get_in(tx: Tx, job_id: int) -> Job | None:
        row = await tx.fetchone(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else _job(row)

    async def get(self, job_id: int) -> Job | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else _job(row)

    @staticmethod
    async def transition(
        tx: Tx,
        job_id: int,
        from_states: Iterable[JobState],
        to_state: JobState,
        *,
        epoch: int | None = None,
        **fields: Any,
    ) -> bool:
        """Move a job to ``to_state`` only if it is in one of ``from_states`` (and, with ``epoch``,
        only if that claim still holds it); True if it moved."""
        sql, params = _move(job_id, from_states, to_state, epoch, fields)
        return await tx.execute(sql, params) == 1

    @staticmethod
    async def move_in(
        tx: Tx,
        job_id: int,
        from_states: Iterable[JobState],
        to_state: JobState,
        *,
        epoch: int | None = None,
        **fields: Any,
    ) -> Job | None:
        """``transition`` that also gives the row as the move left it (RETURNING: no second read);
        None if it did not move."""
        sql, params = _move(job_id, from_states, to_state, epoch, fields)
        row = await tx.fetchone(f"{sql} RETURNING {_COLUMNS}", params)
        return None if row is None else _job(row)

    @staticmethod
    async def update_in(
        tx: Tx, job_id: int, *, expect_state: JobState | None = None, epoch: int | None = None, **fields: Any
    ) -> bool:
        assignments, values = _encode(fields)
        fence, fence_values = _fence(epoch)
        if expect_state is None:
            changed = await tx.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ?{fence}", [*values, job_id, *fence_values]
            )
        else:
            changed = await tx.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ? AND state = ?{fence}",
                [*values, job_id, expect_state.value, *fence_values],
            )
        return changed == 1

    async def update(
        self, job_id: int, *, expect_state: JobState | None = None, epoch: int | None = None, **fields: Any
    ) -> bool:
        return await self.db.run(
            lambda tx: self.update_in(tx, job_id, expect_state=expect_state, epoch=epoch, **fields)
        )

    # --- leases ------------------------------------------------------------------------------

    async def claim_in(
        self, tx: Tx, job_ids: Iterable[int], *, owner: str, until: datetime, now: datetime
    ) -> dict[int, int]:
        """Take the lease of each of these jobs that is free, bumping its epoch; job id → epoch.

        On PostgreSQL the rows are locked with SKIP LOCKED, so two processes claiming at once each
        get a different share and never wait on each other; the outer condition is checked again
        on the locked row. On SQLite BEGIN IMMEDIATE already lets one claimer in at a time.
        """
        ids = list(job_ids)
        if not ids:
            return {}
        free_at = _EVERY_LEASE if self.db.sole_process else to_ts(now)
        marks = ", ".join("?" for _ in ids)
        rows = await tx.fetchall(
            "UPDATE jobs SET lease_owner = ?, lease_until = ?, lease_epoch = lease_epoch + 1"
            f" WHERE id IN (SELECT id FROM jobs WHERE id IN ({marks}) AND {_LEASE_FREE}"
            f"{self.db.dialect.skip_locked()}) AND {_LEASE_FREE}"
            " RETURNING id, lease_epoch",
            [owner, to_ts(until), *ids, free_at, owner, free_at, owner],
        )
        return {int(row["id"]): int(row["lease_epoch"]) for row in rows}

    async def claim(self, job_ids: Iterable[int], *, owner: str, until: datetime, now: datetime) -> dict[int, int]:
        ids = list(job_ids)
        if not ids:
            return {}  # an idle tick writes nothing
        return await self.db.run(lambda tx: self.claim_in(tx, ids, owner=owner, until=until, now=now))

    async def hold(self, job_id: int, *, owner: str, epoch: int, until: datetime) -> bool:
        """Extend a lease just before an external call; False when another process took the job over."""
        return await self.db.run(lambda tx: self.hold_in(tx, job_id, owner=owner, epoch=epoch, until=until))

    @staticmethod
    async def hold_in(tx: Tx, job_id: int, *, owner: str, epoch: int, until: datetime) -> bool:
        changed = await tx.execute(
            "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND lease_epoch = ?",
            (to_ts(until), job_id, owner, epoch),
        )
        return changed == 1

    async def renew(self, job_ids: Iterable[int], *, owner: str, until: datetime) -> set[int]:
        """The heartbeat: extend every lease this owner still holds among these jobs; those it held."""
        ids = list(job_ids)
        if not ids:
            return set()
        marks = ", ".join("?" for _ in ids)
        rows = await self.db.run(
            lambda tx: tx.fetchall(
                f"UPDATE jobs SET lease_until = ? WHERE lease_owner = ? AND id IN ({marks}) RETURNING id",
                [to_ts(until), owner, *ids],
            )
        )
        return {int(row["id"]) for row in rows}

    async def by_interaction(self, interaction_id: int) -> Job | None:
        """The job a Discord interaction made (unique index), whichever process accepted it."""
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM jobs WHERE interaction_id = ?", (interaction_id,))
        return None if row is None else _job(row)

    @staticmethod
    async def id_for_interaction_in(tx: Tx, interaction_id: int) -> int | None:
        """The id of the job a Discord interaction made, if any: every accept asks, so only the id."""
        found = await tx.fetchval("SELECT id FROM jobs WHERE interaction_id = ?", (interaction_id,))
        return None if found is None else int(found)

    @staticmethod
    async def attach_progress_message_in(tx: Tx, job_id: int, message_id: int, at: datetime) -> None:
        """Every /video's second unit: one fixed statement, not ``update_in``'s generic encoding."""
        await tx.execute(
            "UPDATE jobs SET progress_message_id = ?, progress_edited_at = ? WHERE id = ?",
            (message_id, to_ts(at), job_id),
        )

    async def mark_due(self, job_id: int, at: datetime) -> bool:
        """A completion callback said this job may be done: whichever process works on it checks it
        at its next tick (the callback may have reached a process that is not stepping the job)."""
        changed = await self.db.run(
            lambda tx: tx.execute(
                "UPDATE jobs SET next_check_at = ? WHERE id = ? AND state IN ('submitted', 'rendering')"
                " AND (next_check_at IS NULL OR next_check_at > ?)",
                (to_ts(at), job_id, to_ts(at)),
            )
        )
        return changed == 1

    async def by_callback_token(self, token: str) -> Job | None:
        """The job a completion callback's token belongs to (unique index; the token is never logged)."""
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM jobs WHERE callback_token = ?", (token,))
        return None if row is None else _job(row)

    async def by_provider_task(self, provider: str, task_id: str) -> Job | None:
        """The job that owns a provider's task id (unique per provider)."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM jobs WHERE provider = ? AND provider_task_id = ?", (provider, task_id)
        )
        return None if row is None else _job(row)

    async def due(self, now: datetime, limit: int, *, owner: str = "") -> list[Job]:
        """Jobs past the queue whose next step is due and whose lease is free (or ``owner``'s),
        oldest first. Reads the partial index only; the runner then claims them (``claim``).

        Jobs still waiting for a provider slot (state ``accepted``) are left out: ``waiting`` reads
        them in queue order, so a long queue never crowds status checks out of a tick's batch.
        """
        free_at = _EVERY_LEASE if self.db.sole_process else to_ts(now)
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM jobs WHERE next_check_at IS NOT NULL AND state <> 'accepted'"
            f" AND next_check_at <= ? AND {_LEASE_FREE} ORDER BY next_check_at LIMIT ?",
            (to_ts(now), free_at, owner, limit),
        )
        return [_job(row) for row in rows]

    async def waiting(self) -> list[Job]:
        async with self.db.reading() as tx:
            return await self.waiting_in(tx)

    @staticmethod
    async def waiting_in(tx: Tx) -> list[Job]:
        """Jobs waiting for a provider slot, in the order they get one (the first is next).

        Round robin between members. A member's k-th job in line has turn k, where jobs the member
        already has at the provider count as turns taken. The queue is sorted by turn, then by who
        was served least recently (never served first, by the time of their last submission), then
        by acceptance. So everyone's next job goes before anyone's job after that, and between
        equal turns the member who waited longest since their last video goes first: ten jobs from
        one member wait behind a single job from each other member.

        The order is a pure function of the table, so it survives restarts and needs no scheduler
        state. Every part reads a partial index (the queue, the jobs at the provider, the members'
        last submissions), so the cost follows the queue and the jobs in flight, not the history.
        """
        rows = await tx.fetchall(
            "WITH active AS ("
            "  SELECT id, member_id, 0 AS waiting FROM jobs WHERE state IN ('submitted', 'rendering')"
            "  UNION ALL"
            "  SELECT id, member_id, 1 AS waiting FROM jobs WHERE state = 'accepted'"
            "), lineup AS ("
            "  SELECT id, member_id, waiting,"
            "   ROW_NUMBER() OVER (PARTITION BY member_id ORDER BY waiting, id) AS turn"
            "  FROM active"
            "), served AS ("
            "  SELECT member_id, MAX(submitted_at) AS last FROM jobs"
            "  WHERE submitted_at IS NOT NULL AND member_id IN (SELECT member_id FROM lineup WHERE waiting = 1)"
            "  GROUP BY member_id"
            f") SELECT {_QUALIFIED_COLUMNS} FROM lineup JOIN jobs ON jobs.id = lineup.id"
            " LEFT JOIN served ON served.member_id = lineup.member_id"
            " WHERE lineup.waiting = 1"
            " ORDER BY lineup.turn, served.last IS NOT NULL, served.last, jobs.id"
        )
        return [_job(row) for row in rows]

    async def has_waiting(self) -> bool:
        """Whether any job waits for a provider slot: one probe of the queue's partial index."""
        found = await self.db.fetchval("SELECT 1 FROM jobs WHERE state = 'accepted' LIMIT 1")
        return found is not None

    async def in_flight(self) -> int:
        async with self.db.reading() as tx:
            return await self.in_flight_in(tx)

    async def in_flight_in(self, tx: Tx, now: datetime | None = None, owner: str = "") -> int:
        """Jobs the provider is working on, plus creates that may be on the wire or may have made a
        task, plus (given ``now``) queued jobs another process admitted and is about to send: a live
        lease of another owner on a due queued job. (A job backing off after a 429 is not due, so it
        holds no slot; the caller counts its own admitted jobs, which it knows.)"""
        admitted: str = ""
        params: tuple[Any, ...] = ()
        if now is not None and not self.db.sole_process:
            admitted = " OR (lease_until > ? AND next_check_at <= ? AND lease_owner <> ?)"
            params = (to_ts(now), to_ts(now), owner)
        # One statement, so one snapshot on PostgreSQL (READ COMMITTED gives each statement its
        # own): counted in two, a job another process moved from "being sent" to "submitted" in
        # between was in neither count, and one more job was admitted than max_in_flight allows.
        total = await tx.fetchval(
            "SELECT (SELECT COUNT(*) FROM jobs WHERE state IN ('submitted', 'rendering'))"
            " + (SELECT COUNT(*) FROM jobs WHERE state = 'accepted'"
            f" AND (submit_in_flight = 1 OR create_unanswered = 1{admitted}))",
            params,
        )
        return int(total or 0)

    @staticmethod
    async def open_count_and_last_accepted_in(tx: Tx, guild_id: int, member_id: int) -> tuple[int, datetime | None]:
        """The member's jobs that have not ended (queued, rendering or being posted), and when their
        latest job that was not refunded was accepted (for the cooldown): one statement, every accept."""
        row = await tx.fetchone(
            "SELECT (SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND member_id = ?"
            " AND state IN ('accepted', 'submitted', 'rendering', 'succeeded', 'delivering')) AS running,"
            " (SELECT accepted_at FROM jobs WHERE guild_id = ? AND member_id = ?"
            " AND state NOT IN ('failed', 'refused', 'timed_out', 'cancelled') ORDER BY id DESC LIMIT 1) AS last",
            (guild_id, member_id, guild_id, member_id),
        )
        assert row is not None  # a SELECT without FROM always returns its one row
        return int(row["running"] or 0), from_ts(row["last"])

    async def for_member(self, guild_id: int, member_id: int, limit: int = 10) -> list[Job]:
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM jobs WHERE guild_id = ? AND member_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, member_id, limit),
        )
        return [_job(row) for row in rows]

    async def page_for_member(
        self, guild_id: int, member_id: int, *, limit: int, offset: int = 0
    ) -> tuple[list[Job], int]:
        """One page of a member's jobs, newest first, and how many they have in all."""
        async with self.db.reading() as tx:
            count_sql = "SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND member_id = ?"
            total = int(await tx.fetchval(count_sql, (guild_id, member_id)))
            rows = await tx.fetchall(
                f"SELECT {_COLUMNS} FROM jobs WHERE guild_id = ? AND member_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                (guild_id, member_id, limit, offset),
            )
        return [_job(row) for row in rows], total

    async def count_by_state(self) -> dict[JobState, int]:
        rows = await self.db.fetchall("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        return {JobState(row["state"]): int(row["n"]) for row in rows}

    async def recent_render_seconds(self, spec: VideoSpec, limit: int = 20) -> list[float]:
        """Render times of the latest finished jobs with the same shape, to predict the next one."""
        rows = await self.db.fetchall(
            "SELECT finished_at - submitted_at AS seconds FROM jobs"
            " WHERE mode = ? AND duration = ? AND resolution = ? AND finished_at IS NOT NULL"
            " AND submitted_at IS NOT NULL AND state IN ('succeeded', 'delivering', 'delivered')"
            " ORDER BY id DESC LIMIT ?",
            (spec.mode.value, spec.duration, spec.resolution, limit),
        )
        return [float(row["seconds"]) for row in rows if row["seconds"] is not None and row["seconds"] >= 0]
