-- name: generation_volume_by_genre_day
-- description: Generation requests per genre, day (UTC, of the last status change) and status
--   (planned, rejected, generated, failed).
-- materialize: yes
SELECT
    CAST(r.UPDATED_AT AS DATE) AS DAY,
    p.GENRE,
    r.STATUS,
    COUNT(*) AS REQUESTS
FROM GENERATION_REQUESTS AS r
JOIN PROMPT_CATALOG AS p ON p.PROMPT_ID = r.PROMPT_ID
GROUP BY CAST(r.UPDATED_AT AS DATE), p.GENRE, r.STATUS
ORDER BY DAY, p.GENRE, r.STATUS
