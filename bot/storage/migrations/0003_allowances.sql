-- Per-server allowance policy, budget caps, allowed channels, "admins were told" markers,
-- and the indexes the job queue and the budget sums read.

-- One row per server that changed anything; a NULL column means "the config's default".
CREATE TABLE guild_settings (
    guild_id          INTEGER PRIMARY KEY,
    default_allowance INTEGER CHECK (default_allowance IS NULL OR default_allowance >= 0),
    refill_period     TEXT    CHECK (refill_period IS NULL OR refill_period IN ('daily', 'weekly', 'monthly', 'never')),
    -- 0 means "no cap" (set on purpose), NULL means "the config's server_cap".
    budget_cap        INTEGER CHECK (budget_cap IS NULL OR budget_cap >= 0),
    budget_period     TEXT    CHECK (budget_period IS NULL OR budget_period IN ('daily', 'weekly', 'monthly', 'never')),
    admin_channel_id  INTEGER,
    updated_at        REAL    NOT NULL,
    updated_by        INTEGER
);

-- A member with several of these roles gets the highest amount; without any, the default.
CREATE TABLE role_allowances (
    guild_id   INTEGER NOT NULL,
    role_id    INTEGER NOT NULL,
    amount     INTEGER NOT NULL CHECK (amount >= 0),
    updated_at REAL    NOT NULL,
    updated_by INTEGER,
    PRIMARY KEY (guild_id, role_id)
);

-- No row for a server: /video works in every channel the bot can post in.
CREATE TABLE allowed_channels (
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    added_at   REAL    NOT NULL,
    added_by   INTEGER,
    PRIMARY KEY (guild_id, channel_id)
);

-- "The admins of this server were told about <kind> in <period>": written before telling them,
-- so concurrent refusals produce one message, and removed again if the message could not be sent.
CREATE TABLE admin_notices (
    guild_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    period     TEXT    NOT NULL,
    created_at REAL    NOT NULL,
    PRIMARY KEY (guild_id, kind, period)
);

-- The queue of jobs waiting for a provider slot, read in member-interleaved order.
CREATE INDEX jobs_waiting ON jobs (member_id, id) WHERE state = 'accepted';
-- Each member's latest submission, so the queue serves whoever waited longest since their last video.
CREATE INDEX jobs_served ON jobs (member_id, submitted_at) WHERE submitted_at IS NOT NULL;
-- Jobs at the provider, counted against the global in-flight limit.
CREATE INDEX jobs_at_provider ON jobs (state) WHERE state IN ('submitted', 'rendering');
-- The due scan without the waiting jobs (the queue has its own read), so a long queue never
-- crowds status checks and deliveries out of a tick's batch.
CREATE INDEX jobs_due_active ON jobs (next_check_at) WHERE next_check_at IS NOT NULL AND state <> 'accepted';
-- Budget sums: holds since the start of a period, per server and across all servers.
CREATE INDEX ledger_holds_by_guild_time ON ledger (guild_id, created_at) WHERE kind = 'hold';
CREATE INDEX ledger_holds_by_time ON ledger (created_at) WHERE kind = 'hold';
