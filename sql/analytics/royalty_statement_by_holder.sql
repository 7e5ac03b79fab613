-- name: royalty_statement_by_holder
-- description: The royalty statement per holder per month: qualifying streams and amount per currency.
-- param: period month - the month, YYYY-MM
-- materialize: no
SELECT
    s.PERIOD,
    s.HOLDER_ID,
    h.NAME AS HOLDER_NAME,
    h.KIND AS HOLDER_KIND,
    s.CURRENCY,
    s.STREAMS,
    s.AMOUNT
FROM ROYALTY_STATEMENTS AS s
LEFT JOIN RIGHTS_HOLDERS AS h ON h.HOLDER_ID = s.HOLDER_ID
WHERE s.PERIOD = :period
ORDER BY s.CURRENCY, s.AMOUNT DESC, s.HOLDER_ID
