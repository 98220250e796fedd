-- Placeholder on the multiproc branch only: migration 0008 belongs to another branch (runner/hotpath).
-- Delete this file when the real 0008 is merged.
SELECT 1;
