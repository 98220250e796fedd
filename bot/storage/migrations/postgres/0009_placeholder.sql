-- Placeholder on the multiproc branch only: the real PostgreSQL 0009 comes from another branch.
-- Delete this file when the real 0009 is merged.
SELECT 1;
