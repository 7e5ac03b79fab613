-- name: quality_gate_failure_rate
-- description: Quality-gate failure rate per genre: requests that reached generation and failed (status failed)
--   over those that finished (generated + failed), in percent with 2 decimals.
-- materialize: yes
SELECT
    p.GENRE,
    CAST(COUNT_IF(r.STATUS = 'generated') AS BIGINT) AS GENERATED,
    CAST(COUNT_IF(r.STATUS = 'failed') AS BIGINT) AS FAILED,
    CAST(ROUND(100 * COUNT_IF(r.STATUS = 'failed') / NULLIF(COUNT(*), 0), 2) AS NUMBER(5, 2)) AS FAILURE_PCT
FROM GENERATION_REQUESTS AS r
JOIN PROMPT_CATALOG AS p ON p.PROMPT_ID = r.PROMPT_ID
WHERE r.STATUS IN ('generated', 'failed')
GROUP BY p.GENRE
ORDER BY FAILURE_PCT DESC, p.GENRE
