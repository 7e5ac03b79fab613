-- Per track streamed in the trailing 12 months (the period and the 11 months before it): its qualifying streams
-- there (MS_PLAYED >= 30000, all territories, events deduplicated by EVENT_ID as royalties/ledger.sql does) and its
-- TRACKS.GENRE and DURATION_MS (NULL for a track not in TRACKS): what the streaming_2024 policy decides on. The
-- Spark job's track_activity.parquet input (exported as is), and included by royalties/earning_streaming_2024.sql
-- for the SQL engine's ledger.
-- Binds: :trailing_start, :period_end (naive UTC timestamps, end exclusive).
SELECT a.TRACK_ID, t.GENRE, t.DURATION_MS, a.TRAILING_STREAMS
FROM (
    SELECT d.TRACK_ID, COUNT(*) AS TRAILING_STREAMS
    FROM (
        SELECT TRACK_ID, EVENT_TS, MS_PLAYED
        FROM STREAM_EVENTS
        QUALIFY ROW_NUMBER() OVER (
            PARTITION BY EVENT_ID
            ORDER BY EVENT_TS ASC NULLS FIRST, TRACK_ID ASC NULLS FIRST, TERRITORY ASC NULLS FIRST,
                     MS_PLAYED ASC NULLS FIRST
        ) = 1
    ) AS d
    WHERE d.MS_PLAYED >= 30000
      AND d.EVENT_TS >= CAST(:trailing_start AS TIMESTAMP_NTZ)
      AND d.EVENT_TS < CAST(:period_end AS TIMESTAMP_NTZ)
    GROUP BY d.TRACK_ID
) AS a
LEFT JOIN TRACKS AS t ON t.TRACK_ID = a.TRACK_ID
