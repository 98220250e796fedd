-- Moderation: per-server settings, prompt rules, blocks, reviews, reports, removals, refunds
-- and the audit log. Times are UTC epoch seconds (REAL), as in 0001.

CREATE TABLE moderation_settings (
    guild_id            INTEGER PRIMARY KEY,
    review_enabled      INTEGER NOT NULL DEFAULT 0 CHECK (review_enabled IN (0, 1)),
    review_channel_id   INTEGER,
    -- Whether a rejected video's credits come back. Off by default: the render was paid.
    refund_on_reject    INTEGER NOT NULL DEFAULT 0 CHECK (refund_on_reject IN (0, 1)),
    -- Where reports and provider refusals are announced to moderators.
    mod_channel_id      INTEGER,
    updated_at          REAL    NOT NULL,
    CHECK (review_enabled = 0 OR review_channel_id IS NOT NULL)
);

CREATE TABLE prompt_rules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('word', 'pattern')),
    value       TEXT    NOT NULL,
    actor_id    INTEGER NOT NULL,
    created_at  REAL    NOT NULL,
    UNIQUE (guild_id, kind, value)
);

-- Current blocks only; who blocked and unblocked whom, and when, is in the audit log.
CREATE TABLE member_blocks (
    guild_id    INTEGER NOT NULL,
    member_id   INTEGER NOT NULL,
    actor_id    INTEGER NOT NULL,
    reason      TEXT,
    created_at  REAL    NOT NULL,
    PRIMARY KEY (guild_id, member_id)
);

-- A job whose video went to a review channel. The job is delivered (its hold settled) when the
-- review message is posted; the decision is one compare-and-set from 'pending', so two
-- moderators pressing at once produce one decision.
CREATE TABLE reviews (
    job_id               INTEGER PRIMARY KEY REFERENCES jobs (id),
    guild_id             INTEGER NOT NULL,
    channel_id           INTEGER NOT NULL,
    state                TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
    decided_by           INTEGER,
    decided_at           REAL,
    reason               TEXT,
    -- The public post of an approved video; NULL until it is posted.
    published_message_id INTEGER,
    created_at           REAL    NOT NULL,
    CHECK ((state = 'pending') = (decided_by IS NULL))
);

CREATE INDEX reviews_by_state ON reviews (guild_id, state);

-- Reports of a public result. At most one open report per job: later reports add a vote to it.
CREATE TABLE reports (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id            INTEGER NOT NULL,
    job_id              INTEGER NOT NULL REFERENCES jobs (id),
    channel_id          INTEGER NOT NULL,
    message_id          INTEGER NOT NULL,
    state               TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'removed', 'dismissed')),
    notice_channel_id   INTEGER,
    notice_message_id   INTEGER,
    closed_by           INTEGER,
    closed_at           REAL,
    created_at          REAL    NOT NULL
);

CREATE UNIQUE INDEX reports_one_open ON reports (job_id) WHERE state = 'open';

-- One vote per member per report: repeated reports are counted, never repeated.
CREATE TABLE report_votes (
    report_id   INTEGER NOT NULL REFERENCES reports (id),
    member_id   INTEGER NOT NULL,
    created_at  REAL    NOT NULL,
    PRIMARY KEY (report_id, member_id)
);

-- A result message taken down, by its owner or a moderator. One per job.
CREATE TABLE removals (
    job_id      INTEGER PRIMARY KEY REFERENCES jobs (id),
    guild_id    INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    actor_id    INTEGER NOT NULL,
    by_owner    INTEGER NOT NULL CHECK (by_owner IN (0, 1)),
    reason      TEXT,
    created_at  REAL    NOT NULL
);

-- Every moderator and admin action. actor_id NULL: the bot itself (a provider refusal).
CREATE TABLE audit_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id         INTEGER NOT NULL,
    actor_id         INTEGER,
    action           TEXT    NOT NULL,
    target_member_id INTEGER,
    job_id           INTEGER REFERENCES jobs (id),
    reason           TEXT,
    detail           TEXT,
    created_at       REAL    NOT NULL
);

CREATE INDEX audit_by_guild ON audit_log (guild_id, id);
CREATE INDEX audit_by_target ON audit_log (guild_id, target_member_id, id);
-- A provider refusal is logged once per job, however often its notice is retried.
CREATE UNIQUE INDEX audit_one_refusal ON audit_log (job_id) WHERE action = 'provider_refused';

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- A delivered job is refunded at most once, whoever does it (a moderator's /wan-mod refund or a
-- rejection with refunds on): a refund is the one 'adjust' entry that names a job.
CREATE UNIQUE INDEX ledger_one_refund ON ledger (job_id) WHERE kind = 'adjust' AND job_id IS NOT NULL;
