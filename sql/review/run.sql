-- One run of review/run_summary.sql (no row for an unknown id). Binds: :run (RUN_ID).
-- Placeholder {summary}: review/run_summary.sql.
WITH S AS ({summary})
SELECT * FROM S WHERE RUN_ID = :run
