-- Licenses by state on today's date (UTC): active, expired or not yet valid.
SELECT CASE
           WHEN VALID_FROM > CURRENT_DATE() THEN 'not_yet_valid'
           WHEN VALID_TO IS NOT NULL AND VALID_TO < CURRENT_DATE() THEN 'expired'
           ELSE 'active'
       END AS STATE,
       COUNT(*) AS LICENSES
FROM LICENSES
GROUP BY 1
ORDER BY 1
