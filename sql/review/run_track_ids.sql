-- The TRACK_IDs of one run's tracks (those of its requests), sorted. Binds: :run (RUN_ID).
SELECT T.TRACK_ID
FROM TRACKS T
JOIN GENERATION_REQUESTS Q ON Q.REQUEST_ID = T.REQUEST_ID
WHERE Q.RUN_ID = :run
ORDER BY T.TRACK_ID
