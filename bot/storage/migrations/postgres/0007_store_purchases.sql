-- Credit packs bought in Discord's store, and the source message of a job started from a message
-- menu (as ../0007_store_purchases.sql; the comments there say what each column means).
-- Adding a nullable column rewrites no row, so the ledger's append-only triggers do not fire.

ALTER TABLE ledger ADD COLUMN entitlement_id BIGINT;

-- Exactly once per entitlement, whatever Discord replays or however many processes see the event.
CREATE UNIQUE INDEX ledger_one_purchase ON ledger (entitlement_id)
    WHERE entitlement_id IS NOT NULL AND amount > 0;
CREATE UNIQUE INDEX ledger_one_purchase_revoke ON ledger (entitlement_id)
    WHERE entitlement_id IS NOT NULL AND amount <= 0;

CREATE TABLE store_purchases (
    entitlement_id  BIGINT  PRIMARY KEY,
    sku_id          BIGINT  NOT NULL,
    user_id         BIGINT  NOT NULL,
    bought_in       BIGINT,
    guild_id        BIGINT,
    credits         INTEGER NOT NULL CHECK (credits > 0),
    seen_at         DOUBLE PRECISION NOT NULL,
    credited_at     DOUBLE PRECISION,
    consumed_at     DOUBLE PRECISION,
    revoked_at      DOUBLE PRECISION,
    shortfall       INTEGER NOT NULL DEFAULT 0 CHECK (shortfall >= 0)
);

CREATE INDEX store_purchases_pending ON store_purchases (user_id) WHERE credited_at IS NULL;
CREATE INDEX store_purchases_unconsumed ON store_purchases (credited_at) WHERE consumed_at IS NULL;

CREATE TABLE job_sources (
    job_id      BIGINT  PRIMARY KEY REFERENCES jobs (id),
    guild_id    BIGINT  NOT NULL,
    channel_id  BIGINT  NOT NULL,
    message_id  BIGINT  NOT NULL
);
