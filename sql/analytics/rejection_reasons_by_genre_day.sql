-- name: rejection_reasons_by_genre_day
-- description: Rejected and failed requests per genre, day (UTC) and first recorded reason code (REASONS[0].code).
-- materialize: yes
SELECT
    CAST(r.UPDATED_AT AS DATE) AS DAY,
    p.GENRE,
    r.STATUS,
    COALESCE(JSON_EXTRACT_PATH_TEXT(TO_JSON(r.REASONS), '[0].code'), JSON_EXTRACT_PATH_TEXT(TO_JSON(r.REASONS), '[0]'),
             '(none recorded)') AS REASON,
    COUNT(*) AS REQUESTS
FROM GENERATION_REQUESTS AS r
JOIN PROMPT_CATALOG AS p ON p.PROMPT_ID = r.PROMPT_ID
WHERE r.STATUS IN ('rejected', 'failed')
GROUP BY CAST(r.UPDATED_AT AS DATE), p.GENRE, r.STATUS, COALESCE(JSON_EXTRACT_PATH_TEXT(TO_JSON(r.REASONS), '[0].code'), JSON_EXTRACT_PATH_TEXT(TO_JSON(r.REASONS), '[0]'),
             '(none recorded)')
ORDER BY DAY, p.GENRE, r.STATUS, REQUESTS DESC, REASON
