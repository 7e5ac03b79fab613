-- The run of each of some tracks (unknown ids give no row): what a decision is checked against before it is
-- written. Binds: placeholder {ids: :t#}, one per TRACK_ID.
SELECT T.TRACK_ID, Q.RUN_ID
FROM TRACKS T
JOIN GENERATION_REQUESTS Q ON Q.REQUEST_ID = T.REQUEST_ID
WHERE T.TRACK_ID IN ({ids: :t#})
ORDER BY T.TRACK_ID
