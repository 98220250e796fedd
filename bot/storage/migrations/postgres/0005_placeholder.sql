-- Placeholder on the multiproc branch only: the real PostgreSQL 0005 comes from another branch.
-- Delete this file when the real 0005 is merged.
SELECT 1;
