-- Credit packs bought in Discord's store, and the source message of a job started from a message menu.

-- A purchase is a 'grant' to the buyer that names its entitlement; the export and /wan-admin stats
-- show it as kind 'purchase'. A revoke is a second entry for the same entitlement (amount <= 0).
ALTER TABLE ledger ADD COLUMN entitlement_id INTEGER;

-- Exactly once per entitlement, whatever Discord replays or however many processes see the event.
CREATE UNIQUE INDEX ledger_one_purchase ON ledger (entitlement_id)
    WHERE entitlement_id IS NOT NULL AND amount > 0;
CREATE UNIQUE INDEX ledger_one_purchase_revoke ON ledger (entitlement_id)
    WHERE entitlement_id IS NOT NULL AND amount <= 0;

-- What happened to each entitlement the bot saw. The ledger holds the money; this holds the steps
-- (credited, consumed at Discord, revoked, and any shortfall a revoke could not take back).
CREATE TABLE store_purchases (
    entitlement_id  INTEGER PRIMARY KEY,
    sku_id          INTEGER NOT NULL,
    user_id         INTEGER NOT NULL,
    -- The server it was bought in; NULL for a purchase outside a server until it is credited.
    bought_in       INTEGER,
    -- The server whose balance got the credits (NULL until credited).
    guild_id        INTEGER,
    credits         INTEGER NOT NULL CHECK (credits > 0),
    seen_at         REAL    NOT NULL,
    credited_at     REAL,
    consumed_at     REAL,
    revoked_at      REAL,
    -- Credits a revoke could not take back because the member had already spent them.
    shortfall       INTEGER NOT NULL DEFAULT 0 CHECK (shortfall >= 0)
);

CREATE INDEX store_purchases_pending ON store_purchases (user_id) WHERE credited_at IS NULL;
CREATE INDEX store_purchases_unconsumed ON store_purchases (credited_at) WHERE consumed_at IS NULL;

CREATE TABLE job_sources (
    job_id      INTEGER PRIMARY KEY REFERENCES jobs (id),
    guild_id    INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    message_id  INTEGER NOT NULL
);
