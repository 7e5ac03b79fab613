-- Total paid per period and currency (the sum of the period's statements), oldest period first: the payouts
-- chart. PAID is NUMBER(38, 6).
SELECT PERIOD, CURRENCY, CAST(SUM(AMOUNT) AS NUMBER(38, 6)) AS PAID
FROM ROYALTY_STATEMENTS
GROUP BY PERIOD, CURRENCY
ORDER BY PERIOD, CURRENCY
