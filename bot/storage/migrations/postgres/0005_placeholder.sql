-- Placeholder on the runner branch only: the PostgreSQL twin of migration 0005 comes from the pgport
-- branch. Delete this file when merging that twin (the loader refuses gaps and duplicate numbers).
SELECT 1;
