-- Completion callbacks: each job gets an unguessable token that its callback URL carries.
ALTER TABLE jobs ADD COLUMN callback_token TEXT;

CREATE UNIQUE INDEX jobs_by_callback_token ON jobs (callback_token) WHERE callback_token IS NOT NULL;
