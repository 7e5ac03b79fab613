-- The period's ROYALTY_STATEMENTS with each holder's name (RIGHTS_HOLDERS.NAME, else the id): what each DSR file
-- must reconcile to, by holder and currency. Binds: :period (YYYY-MM).
SELECT
    s.HOLDER_ID,
    COALESCE(h.NAME, s.HOLDER_ID) AS HOLDER_NAME,
    s.CURRENCY,
    s.STREAMS,
    s.AMOUNT
FROM ROYALTY_STATEMENTS AS s
LEFT JOIN RIGHTS_HOLDERS AS h ON h.HOLDER_ID = s.HOLDER_ID
WHERE s.PERIOD = :period
ORDER BY s.HOLDER_ID, s.CURRENCY
