-- The keys (less PERIOD) of the period's ROYALTY_STATEMENTS lines, to find those a rerun no longer has.
-- Binds: :period. Keep the columns in the order royalties/delete_stale_statements.sql joins them.
SELECT HOLDER_ID, CURRENCY FROM ROYALTY_STATEMENTS WHERE PERIOD = :period
