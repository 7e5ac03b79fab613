-- ROYALTY_STATEMENTS lines of one period, computed from the ledger (royalties/statements.sql over
-- royalties/ledger.sql as the relation LEDGER). Binds: those of ledger.sql (:period, :period_start, :period_end).
-- Parts: ledger and statements, the names of those two files (their text is included).
WITH LEDGER AS ({ledger})
{statements}
