-- Completion callbacks: each job gets an unguessable token that its callback URL carries.
-- A callback is looked up by this token only; jobs from before this migration have none and
-- are simply polled.
ALTER TABLE jobs ADD COLUMN callback_token TEXT;

CREATE UNIQUE INDEX jobs_by_callback_token ON jobs (callback_token) WHERE callback_token IS NOT NULL;
