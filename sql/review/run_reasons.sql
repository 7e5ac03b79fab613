-- Rejected and failed requests of some runs per first recorded reason: a failure's error class when it has one
-- (what the run summary's top failures name), else its code. Binds: placeholder {ids: :r#}, one per RUN_ID.
SELECT RUN_ID, STATUS,
       COALESCE(JSON_EXTRACT_PATH_TEXT(TO_JSON(REASONS), '[0].error'),
                JSON_EXTRACT_PATH_TEXT(TO_JSON(REASONS), '[0].code'), '(none recorded)') AS CODE,
       COUNT(*) AS REQUESTS
FROM GENERATION_REQUESTS
WHERE STATUS IN ('rejected', 'failed') AND RUN_ID IN ({ids: :r#})
GROUP BY RUN_ID, STATUS, COALESCE(JSON_EXTRACT_PATH_TEXT(TO_JSON(REASONS), '[0].error'),
                                  JSON_EXTRACT_PATH_TEXT(TO_JSON(REASONS), '[0].code'), '(none recorded)')
ORDER BY RUN_ID, STATUS, REQUESTS DESC, CODE
