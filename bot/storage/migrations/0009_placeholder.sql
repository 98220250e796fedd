-- Placeholder on the multiproc branch only: migration 0009 belongs to another branch (runner/hotpath).
-- Delete this file when the real 0009 is merged.
SELECT 1;
