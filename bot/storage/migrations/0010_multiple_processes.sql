-- More than one process (issue 12, items 4 and 6).

-- The server's upload limit in bytes, seen on the interaction when the job was accepted. Any
-- process may deliver the job, and one without that server in its cache would otherwise assume
-- Discord's 10 MiB default and post a link where a boosted server takes the file. NULL: accepted
-- before this column existed (delivery then asks the cache, as before).
ALTER TABLE jobs ADD COLUMN upload_limit_bytes INTEGER CHECK (upload_limit_bytes IS NULL OR upload_limit_bytes > 0);

-- Gateway identify slots: one row per max_concurrency bucket (shard_id % max_concurrency). A
-- process reserves the bucket's next slot (UTC epoch seconds) under a lock and waits for it, so
-- processes sharing one bot token never IDENTIFY in one bucket less than 5 s apart.
CREATE TABLE identify_slots (
    bucket  INTEGER PRIMARY KEY CHECK (bucket >= 0),
    next_at REAL    NOT NULL
);
