-- Deletes the period's ROYALTY_LEDGER lines whose key is among the given stale keys; returns the row count.
-- A key is its columns of royalties/ledger_keys.sql, in that order, joined by CHR(31) (the unit separator, which
-- cannot appear in ids). Binds: :period, and :k0, :k1, ... one per stale key. Part keys: how many keys (an int);
-- the IN list repeats the bind ":k#" that many times (generated bind names: the new keys exist only in memory,
-- and staging them would be DDL inside the load's transaction).
DELETE FROM ROYALTY_LEDGER WHERE PERIOD = :period
AND (TERRITORY || CHR(31) || TRACK_ID || CHR(31) || HOLDER_ID || CHR(31) || CURRENCY) IN ({keys: :k#})
