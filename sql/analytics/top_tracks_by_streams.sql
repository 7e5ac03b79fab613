-- name: top_tracks_by_streams
-- description: The most streamed tracks by qualifying streams (>= 30000 ms) in a date range (UTC, end exclusive).
-- param: start_date date - first day, YYYY-MM-DD
-- param: end_date date - day after the last, YYYY-MM-DD
-- param: top_n int 20 - how many tracks
-- materialize: no
WITH PARAMS AS (
    -- every bind is read here, once
    SELECT CAST(:start_date AS TIMESTAMP_NTZ) AS START_TS, CAST(:end_date AS TIMESTAMP_NTZ) AS END_TS,
           CAST(:top_n AS INTEGER) AS TOP_N
),
QUALIFYING AS (
    SELECT TRACK_ID, COUNT(DISTINCT EVENT_ID) AS STREAMS
    FROM STREAM_EVENTS
    WHERE MS_PLAYED >= 30000
      AND EVENT_TS >= (SELECT START_TS FROM PARAMS)
      AND EVENT_TS < (SELECT END_TS FROM PARAMS)
    GROUP BY TRACK_ID
),
RANKED AS (
    SELECT
        q.TRACK_ID,
        t.TITLE,
        t.GENRE,
        t.MOOD,
        q.STREAMS,
        ROW_NUMBER() OVER (ORDER BY q.STREAMS DESC, q.TRACK_ID ASC) AS STREAM_RANK
    FROM QUALIFYING AS q
    LEFT JOIN TRACKS AS t ON t.TRACK_ID = q.TRACK_ID
)
SELECT STREAM_RANK, TRACK_ID, TITLE, GENRE, MOOD, STREAMS
FROM RANKED
WHERE STREAM_RANK <= (SELECT TOP_N FROM PARAMS)
ORDER BY STREAM_RANK
