-- name: holder_concentration
-- description: Share of a month's payouts going to the top 10 holders, per currency, in percent (2 decimals).
-- param: period month - the month, YYYY-MM
-- materialize: no
WITH RANKED AS (
    SELECT
        CURRENCY,
        HOLDER_ID,
        AMOUNT,
        ROW_NUMBER() OVER (PARTITION BY CURRENCY ORDER BY AMOUNT DESC, HOLDER_ID ASC) AS HOLDER_RANK
    FROM ROYALTY_STATEMENTS
    WHERE PERIOD = :period
)
SELECT
    CURRENCY,
    COUNT(*) AS HOLDERS,
    SUM(AMOUNT) AS TOTAL_PAID,
    SUM(CASE WHEN HOLDER_RANK <= 10 THEN AMOUNT ELSE 0 END) AS TOP10_PAID,
    CAST(ROUND(100 * SUM(CASE WHEN HOLDER_RANK <= 10 THEN AMOUNT ELSE 0 END) / NULLIF(SUM(AMOUNT), 0), 2)
         AS NUMBER(5, 2)) AS TOP10_SHARE_PCT
FROM RANKED
GROUP BY CURRENCY
ORDER BY CURRENCY
