-- Placeholder on the multiproc branch only: the real PostgreSQL 0007 comes from another branch.
-- Delete this file when the real 0007 is merged.
SELECT 1;
