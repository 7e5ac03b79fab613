-- How many TRACKS the requests of one run produced (one row, one column). Binds: :run (RUN_ID).
SELECT COUNT(*) FROM TRACKS T JOIN GENERATION_REQUESTS R
ON T.REQUEST_ID = R.REQUEST_ID WHERE R.RUN_ID = :run
