-- Placeholder on the multiproc branch only: the real PostgreSQL 0006 comes from another branch.
-- Delete this file when the real 0006 is merged.
SELECT 1;
