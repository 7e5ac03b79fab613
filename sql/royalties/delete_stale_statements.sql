-- Deletes the period's ROYALTY_STATEMENTS lines whose key is among the given stale keys; returns the row count.
-- A key is its columns of royalties/statement_keys.sql, in that order, joined by CHR(31) (the unit separator,
-- which cannot appear in ids). Binds: :period, and :k0, :k1, ... one per stale key. Part keys: how many keys (an
-- int); the IN list repeats the bind ":k#" that many times (generated bind names, as in delete_stale_ledger.sql).
DELETE FROM ROYALTY_STATEMENTS WHERE PERIOD = :period
AND (HOLDER_ID || CHR(31) || CURRENCY) IN ({keys: :k#})
