-- What the operator's provider account pays, per job, and creates whose answer was lost
-- (as ../0005_provider_spend.sql; the comments there say what each column means).

ALTER TABLE jobs ADD COLUMN provider_billed INTEGER NOT NULL DEFAULT 0 CHECK (provider_billed IN (0, 1));
ALTER TABLE jobs ADD COLUMN provider_charged INTEGER;
ALTER TABLE jobs ADD COLUMN provider_refunded INTEGER;
ALTER TABLE jobs ADD COLUMN create_unanswered INTEGER NOT NULL DEFAULT 0 CHECK (create_unanswered IN (0, 1));

-- Jobs from before this version: a task id means the provider charged, unless it said the render
-- failed or was refused, or did not know the task; a create that went unconfirmed may have charged.
UPDATE jobs SET provider_billed = 1
WHERE (provider_task_id IS NOT NULL AND COALESCE(error_code, '') NOT IN ('render_failed', 'refused', 'task_not_found'))
   OR error_code = 'submit_unconfirmed';
