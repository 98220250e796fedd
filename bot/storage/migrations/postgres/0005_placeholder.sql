-- Placeholder on the hotpath branch only: the PostgreSQL twin of ../0005_*.sql comes from another
-- branch (pgport: 0005-0007, runner: 0008). Replace this file with it when merging.
SELECT 1;
