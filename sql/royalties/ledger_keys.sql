-- The keys (less PERIOD) of the period's ROYALTY_LEDGER lines, to find those a rerun no longer has.
-- Binds: :period. Keep the columns in the order royalties/delete_stale_ledger.sql joins them.
SELECT TERRITORY, TRACK_ID, HOLDER_ID, CURRENCY FROM ROYALTY_LEDGER WHERE PERIOD = :period
