-- ROYALTY_STATEMENTS lines of one period, computed from the ledger (royalties/statements.sql over
-- royalties/ledger.sql as the relation LEDGER). Binds: those of the ledger file (:period, :period_start, :period_end
-- and its earning file's). Parts: ledger and statements, the names of those two files (their text is included),
-- and the parts the ledger file takes (earning, activity).
WITH LEDGER AS ({ledger})
{statements}
