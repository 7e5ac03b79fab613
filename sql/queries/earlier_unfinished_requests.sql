-- Catalog requests of earlier runs to retry under their own ids: those that failed, and those left planned by a
-- run that is no longer running (it stopped on its failure budget, or crashed, before generating them).
SELECT R.REQUEST_ID, R.RUN_ID, R.ORDINAL, R.SEED, P.*
FROM GENERATION_REQUESTS R
JOIN PROMPT_CATALOG P ON P.PROMPT_ID = R.PROMPT_ID
LEFT JOIN GENERATION_RUNS G ON G.RUN_ID = R.RUN_ID
WHERE R.PLAYLIST_ID IS NULL
  AND R.RUN_ID <> :run
  AND (R.STATUS = 'failed' OR (R.STATUS = 'planned' AND COALESCE(G.STATUS, 'failed') <> 'running'))
ORDER BY R.REQUEST_ID
