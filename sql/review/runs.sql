-- The latest runs for the review's runs page, newest first (logical date, then start). Binds: :limit (rows).
-- Placeholder {summary}: review/run_summary.sql.
WITH S AS ({summary})
SELECT * FROM S
QUALIFY ROW_NUMBER() OVER (ORDER BY LOGICAL_DATE DESC, STARTED_AT DESC NULLS LAST, RUN_ID DESC) <= :limit
ORDER BY LOGICAL_DATE DESC, STARTED_AT DESC NULLS LAST, RUN_ID DESC
