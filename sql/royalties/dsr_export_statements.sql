-- The period's ROYALTY_STATEMENTS as exported by `maestro royalties export --format csv|parquet`: every column,
-- by holder and currency. Binds: :period (YYYY-MM).
SELECT PERIOD, HOLDER_ID, CURRENCY, STREAMS, AMOUNT
FROM ROYALTY_STATEMENTS
WHERE PERIOD = :period
ORDER BY HOLDER_ID, CURRENCY
