-- The tracks a delivery for one date considers: every TRACKS row of that date's generation runs whose request is
-- 'generated' (it passed the rights gate and QC), with the licenses the gate relied on (TRACK_PROVENANCE.LICENSE_IDS,
-- JSON text). Binds: :day (the runs' LOGICAL_DATE, YYYY-MM-DD), :generated (the request status).
SELECT T.TRACK_ID, T.ISRC, T.TITLE, T.URI, T.SHA256, T.DURATION_MS, T.GENRE, T.CREATED_AT,
       TO_JSON(P.LICENSE_IDS) AS LICENSE_IDS, Q.RUN_ID
FROM TRACKS T
JOIN GENERATION_REQUESTS Q ON Q.REQUEST_ID = T.REQUEST_ID
JOIN GENERATION_RUNS R ON R.RUN_ID = Q.RUN_ID
LEFT JOIN TRACK_PROVENANCE P ON P.TRACK_ID = T.TRACK_ID
WHERE R.LOGICAL_DATE = CAST(:day AS DATE) AND Q.STATUS = :generated
ORDER BY T.TRACK_ID
