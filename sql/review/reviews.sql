-- The REVIEWS rows of some tracks (pending tracks have none). Binds: placeholder {ids: :t#}, one per TRACK_ID.
SELECT TRACK_ID, RUN_ID, DECISION, REVIEWER, NOTE, DECIDED_AT
FROM REVIEWS
WHERE TRACK_ID IN ({ids: :t#})
ORDER BY TRACK_ID
