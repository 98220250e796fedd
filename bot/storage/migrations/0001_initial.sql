-- Jobs and the credit ledger.
-- Times are UTC seconds since the epoch (REAL), so due-job scans are plain index range reads.

CREATE TABLE jobs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id            INTEGER NOT NULL,
    channel_id          INTEGER NOT NULL,
    member_id           INTEGER NOT NULL,
    mode                TEXT    NOT NULL CHECK (mode IN ('text-to-video', 'image-to-video', 'video-to-video')),
    prompt              TEXT    NOT NULL,
    duration            INTEGER NOT NULL CHECK (duration IN (5, 10, 15)),
    resolution          TEXT    NOT NULL CHECK (resolution IN ('720p', '1080p')),
    image_url           TEXT,
    video_url           TEXT,
    price               INTEGER NOT NULL CHECK (price >= 0),
    state               TEXT    NOT NULL CHECK (state IN (
                            'accepted', 'submitted', 'rendering', 'succeeded', 'delivering', 'delivered',
                            'failed', 'refused', 'timed_out', 'cancelled')),
    provider            TEXT    NOT NULL,
    idempotency_key     TEXT    NOT NULL UNIQUE,
    provider_task_id    TEXT,
    submit_attempts     INTEGER NOT NULL DEFAULT 0,
    -- 1 while a create request may be on the wire: after a crash it means "outcome unknown".
    submit_in_flight    INTEGER NOT NULL DEFAULT 0 CHECK (submit_in_flight IN (0, 1)),
    check_attempts      INTEGER NOT NULL DEFAULT 0,
    next_check_at       REAL,
    accepted_at         REAL    NOT NULL,
    submitted_at        REAL,
    finished_at         REAL,
    delivered_at        REAL,
    result_url          TEXT,
    error_code          TEXT,
    error_message       TEXT,
    progress_message_id INTEGER,
    progress_edited_at  REAL,
    result_message_id   INTEGER,
    notified            INTEGER NOT NULL DEFAULT 0 CHECK (notified IN (0, 1)),
    parent_job_id       INTEGER REFERENCES jobs (id)
);

-- The loop reads only jobs that are due: next_check_at is NULL once nothing is left to do.
CREATE INDEX jobs_due ON jobs (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX jobs_by_member ON jobs (guild_id, member_id, id);
CREATE UNIQUE INDEX jobs_by_task ON jobs (provider, provider_task_id) WHERE provider_task_id IS NOT NULL;

CREATE TABLE ledger (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    member_id   INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('grant', 'refill', 'hold', 'settle', 'release', 'adjust')),
    amount      INTEGER NOT NULL,
    job_id      INTEGER REFERENCES jobs (id),
    actor_id    INTEGER,
    reason      TEXT,
    -- For refills: the period they belong to ('2026-W47', '2026-11', ...), so each is written once.
    period      TEXT,
    created_at  REAL    NOT NULL,
    CHECK (kind NOT IN ('hold', 'settle', 'release') OR (job_id IS NOT NULL AND amount >= 0)),
    CHECK (kind <> 'refill' OR period IS NOT NULL)
);

CREATE INDEX ledger_by_member ON ledger (guild_id, member_id, id);
CREATE INDEX ledger_by_time ON ledger (guild_id, created_at);
-- The money invariants, enforced by SQLite rather than by care:
-- one hold per job, one settlement (kept or returned) per job, one refill per member per period.
CREATE UNIQUE INDEX ledger_one_hold ON ledger (job_id) WHERE kind = 'hold';
CREATE UNIQUE INDEX ledger_one_settlement ON ledger (job_id) WHERE kind IN ('settle', 'release');
CREATE UNIQUE INDEX ledger_one_refill ON ledger (guild_id, member_id, period) WHERE kind = 'refill';

-- Append-only: corrections are new entries, never edits.
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;

CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;
