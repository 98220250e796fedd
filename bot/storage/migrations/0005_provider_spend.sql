-- What the operator's provider account pays, per job, and creates whose answer was lost.

-- 1 while the provider may have charged the operator for this job and has not said it refunded
-- it: from the create that returned a task id (both providers charge at create) until the
-- provider reports the render failed or refused, or does not know the task. A released job
-- still counts against budget caps while this is 1 (a render made but not deliverable).
ALTER TABLE jobs ADD COLUMN provider_billed INTEGER NOT NULL DEFAULT 0 CHECK (provider_billed IN (0, 1));
-- What the provider itself reported, in its own credits (NULL: it did not say): the net charge
-- (wan26ai consumed_credits; apimall credits_used minus credits_refunded) and apimall's refund.
ALTER TABLE jobs ADD COLUMN provider_charged INTEGER;
ALTER TABLE jobs ADD COLUMN provider_refunded INTEGER;
-- 1 once a create got no usable answer (apimall resends it with the same Idempotency-Key):
-- a paid task may exist, so the job can no longer be cancelled as "never sent".
ALTER TABLE jobs ADD COLUMN create_unanswered INTEGER NOT NULL DEFAULT 0 CHECK (create_unanswered IN (0, 1));

-- Jobs from before this version: a task id means the provider charged, unless it said the render
-- failed or was refused, or did not know the task; a create that went unconfirmed may have charged.
UPDATE jobs SET provider_billed = 1
WHERE (provider_task_id IS NOT NULL AND COALESCE(error_code, '') NOT IN ('render_failed', 'refused', 'task_not_found'))
   OR error_code = 'submit_unconfirmed';
