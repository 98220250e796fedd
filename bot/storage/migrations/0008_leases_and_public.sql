-- Jobs claimed by one process at a time, one job per Discord interaction, and the public switch.

-- A lease per job: who works on it (a process id), until when, and a fencing epoch bumped by every
-- claim. Every transition of a claimed job adds "AND lease_epoch = ?", so a process that stalled
-- past its lease cannot write over the one that took the job over (bot/storage/jobs.py).
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until REAL;
ALTER TABLE jobs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;

-- The Discord interaction that asked for the job (NULL for rerolls and older jobs). Discord may
-- deliver one interaction to two processes during a session handover: the second insert fails.
ALTER TABLE jobs ADD COLUMN interaction_id INTEGER;
CREATE UNIQUE INDEX jobs_by_interaction ON jobs (interaction_id) WHERE interaction_id IS NOT NULL;

-- wan26ai's "public" flag (expose the task in its public galleries): off unless a server's admins
-- turn it on with /wan-admin public on.
ALTER TABLE guild_settings ADD COLUMN public_gallery INTEGER NOT NULL DEFAULT 0 CHECK (public_gallery IN (0, 1));
