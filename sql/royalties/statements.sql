-- name: royalty_statements
-- description: ROYALTY_STATEMENTS of one period from the ledger lines computed by royalty_ledger (a relation
--   named LEDGER: PERIOD, TERRITORY, TRACK_ID, HOLDER_ID, CURRENCY, AMOUNT, STREAMS). STREAMS is the sum of the
--   qualifying streams behind the holder's ledger lines in that currency.
-- params: none
SELECT
    PERIOD,
    HOLDER_ID,
    CURRENCY,
    CAST(SUM(STREAMS) AS BIGINT) AS STREAMS,
    CAST(SUM(AMOUNT) AS NUMBER(38, 6)) AS AMOUNT
FROM LEDGER
GROUP BY PERIOD, HOLDER_ID, CURRENCY
ORDER BY HOLDER_ID, CURRENCY
