-- A run's requests with their status, reasons and prompt genre, by prompt id. Binds: :run (RUN_ID).
SELECT R.REQUEST_ID, R.PROMPT_ID, R.STATUS, R.REASONS, P.GENRE FROM GENERATION_REQUESTS R
LEFT JOIN PROMPT_CATALOG P ON P.PROMPT_ID = R.PROMPT_ID WHERE R.RUN_ID = :run
ORDER BY R.PROMPT_ID
