-- Placeholder on the multiproc branch only: the real PostgreSQL 0008 comes from another branch.
-- Delete this file when the real 0008 is merged.
SELECT 1;
