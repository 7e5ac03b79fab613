-- Every generation run with its tracks and how many of them REVIEWS approved or held (included by runs.sql and
-- run.sql; no binds). A track belongs to the run of its request. COUNTS is the run's JSON text.
SELECT R.RUN_ID, R.DAG_ID, R.LOGICAL_DATE, R.ENGINE, R.STATUS, R.STARTED_AT, R.FINISHED_AT, R.REASON,
       TO_JSON(R.COUNTS) AS COUNTS,
       COALESCE(C.TRACKS, 0) AS TRACKS, COALESCE(C.APPROVED, 0) AS APPROVED, COALESCE(C.HELD, 0) AS HELD
FROM GENERATION_RUNS R
LEFT JOIN (
    SELECT Q.RUN_ID, COUNT(*) AS TRACKS, COUNT_IF(V.DECISION = 'approved') AS APPROVED,
           COUNT_IF(V.DECISION = 'held') AS HELD
    FROM TRACKS T
    JOIN GENERATION_REQUESTS Q ON Q.REQUEST_ID = T.REQUEST_ID
    LEFT JOIN REVIEWS V ON V.TRACK_ID = T.TRACK_ID
    GROUP BY Q.RUN_ID
) C ON C.RUN_ID = R.RUN_ID
