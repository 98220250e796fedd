-- Per-server allowance policy, budget caps, allowed channels, "admins were told" markers,
-- and the indexes the job queue and the budget sums read (as ../0003_allowances.sql).

CREATE TABLE guild_settings (
    guild_id          BIGINT  PRIMARY KEY,
    default_allowance INTEGER CHECK (default_allowance IS NULL OR default_allowance >= 0),
    refill_period     TEXT    CHECK (refill_period IS NULL OR refill_period IN ('daily', 'weekly', 'monthly', 'never')),
    budget_cap        INTEGER CHECK (budget_cap IS NULL OR budget_cap >= 0),
    budget_period     TEXT    CHECK (budget_period IS NULL OR budget_period IN ('daily', 'weekly', 'monthly', 'never')),
    admin_channel_id  BIGINT,
    updated_at        DOUBLE PRECISION NOT NULL,
    updated_by        BIGINT
);

CREATE TABLE role_allowances (
    guild_id   BIGINT  NOT NULL,
    role_id    BIGINT  NOT NULL,
    amount     INTEGER NOT NULL CHECK (amount >= 0),
    updated_at DOUBLE PRECISION NOT NULL,
    updated_by BIGINT,
    PRIMARY KEY (guild_id, role_id)
);

CREATE TABLE allowed_channels (
    guild_id   BIGINT NOT NULL,
    channel_id BIGINT NOT NULL,
    added_at   DOUBLE PRECISION NOT NULL,
    added_by   BIGINT,
    PRIMARY KEY (guild_id, channel_id)
);

CREATE TABLE admin_notices (
    guild_id   BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    period     TEXT   NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, kind, period)
);

CREATE INDEX jobs_waiting ON jobs (member_id, id) WHERE state = 'accepted';
CREATE INDEX jobs_served ON jobs (member_id, submitted_at) WHERE submitted_at IS NOT NULL;
CREATE INDEX jobs_at_provider ON jobs (state) WHERE state IN ('submitted', 'rendering');
CREATE INDEX jobs_due_active ON jobs (next_check_at) WHERE next_check_at IS NOT NULL AND state <> 'accepted';
CREATE INDEX ledger_holds_by_guild_time ON ledger (guild_id, created_at) WHERE kind = 'hold';
CREATE INDEX ledger_holds_by_time ON ledger (created_at) WHERE kind = 'hold';
