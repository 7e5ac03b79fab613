-- Refused requests (rejected by planning or the rights gate, or failed in generation or QC) by first recorded
-- reason code: per code its request count and up to 5 example requests (lowest ids), each with the message
-- recorded with its reason. Binds: :run (one RUN_ID, or '' for every run).
WITH REFUSED AS (
    SELECT REQUEST_ID,
           COALESCE(JSON_EXTRACT_PATH_TEXT(TO_JSON(REASONS), '[0].code'), '(none recorded)') AS CODE,
           COALESCE(JSON_EXTRACT_PATH_TEXT(TO_JSON(REASONS), '[0].message'), '') AS MESSAGE
    FROM GENERATION_REQUESTS
    WHERE STATUS IN ('rejected', 'failed') AND (:run = '' OR RUN_ID = :run)
)
SELECT CODE, MESSAGE, REQUEST_ID, COUNT(*) OVER (PARTITION BY CODE) AS REQUESTS
FROM REFUSED
QUALIFY ROW_NUMBER() OVER (PARTITION BY CODE ORDER BY REQUEST_ID) <= 5
ORDER BY REQUESTS DESC, CODE, REQUEST_ID
