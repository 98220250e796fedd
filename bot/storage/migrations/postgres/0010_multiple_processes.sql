-- More than one process (PostgreSQL; the same schema as ../0010_multiple_processes.sql).

-- The server's upload limit in bytes, seen on the interaction when the job was accepted; any
-- process may deliver the job, whether or not that server is in its cache.
ALTER TABLE jobs ADD COLUMN upload_limit_bytes BIGINT CHECK (upload_limit_bytes IS NULL OR upload_limit_bytes > 0);

-- Gateway identify slots per max_concurrency bucket, reserved under an advisory lock.
CREATE TABLE identify_slots (
    bucket  INTEGER PRIMARY KEY CHECK (bucket >= 0),
    next_at DOUBLE PRECISION NOT NULL
);
