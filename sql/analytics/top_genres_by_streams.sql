-- name: top_genres_by_streams
-- description: Qualifying streams (>= 30000 ms) per genre in a date range (UTC, end exclusive), with tracks streamed.
-- param: start_date date - first day, YYYY-MM-DD
-- param: end_date date - day after the last, YYYY-MM-DD
-- materialize: no
SELECT
    COALESCE(t.GENRE, '(unknown track)') AS GENRE,
    COUNT(DISTINCT e.EVENT_ID) AS STREAMS,
    COUNT(DISTINCT e.TRACK_ID) AS TRACKS_STREAMED
FROM STREAM_EVENTS AS e
LEFT JOIN TRACKS AS t ON t.TRACK_ID = e.TRACK_ID
WHERE e.MS_PLAYED >= 30000
  AND e.EVENT_TS >= CAST(:start_date AS TIMESTAMP_NTZ)
  AND e.EVENT_TS < CAST(:end_date AS TIMESTAMP_NTZ)
GROUP BY COALESCE(t.GENRE, '(unknown track)')
ORDER BY STREAMS DESC, GENRE
