-- The period's ROYALTY_LEDGER lines with what a DSR reports beside the money: the track's ISRC, title and duration
-- (TRACKS, when it has the track), the holder's SHARE_BPS (ROYALTY_SPLITS) and the line's qualifying STREAMS
-- (distinct EVENT_IDs of the track in the line's territory, in the period, played 30 s or more: the rule of
-- royalties/ledger.sql, whose STREAMS the statements sum). One row per ledger line, by holder, track, pool.
-- Binds: :period (YYYY-MM), :period_start and :period_end (UTC timestamps bounding the month, end exclusive).
WITH PARAMS AS (
    SELECT CAST(:period AS VARCHAR) AS PERIOD,
           CAST(:period_start AS TIMESTAMP_NTZ) AS PERIOD_START,
           CAST(:period_end AS TIMESTAMP_NTZ) AS PERIOD_END
),
EVENTS AS (
    SELECT EVENT_ID, TRACK_ID, TERRITORY, EVENT_TS, MS_PLAYED
    FROM STREAM_EVENTS
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY EVENT_ID
        ORDER BY EVENT_TS ASC NULLS FIRST, TRACK_ID ASC NULLS FIRST, TERRITORY ASC NULLS FIRST,
                 MS_PLAYED ASC NULLS FIRST
    ) = 1
),
PAID AS (
    SELECT e.TERRITORY, e.TRACK_ID, COUNT(*) AS STREAMS
    FROM EVENTS AS e
    WHERE e.MS_PLAYED >= 30000
      AND e.EVENT_TS >= (SELECT PERIOD_START FROM PARAMS)
      AND e.EVENT_TS < (SELECT PERIOD_END FROM PARAMS)
    GROUP BY e.TERRITORY, e.TRACK_ID
)
SELECT
    l.HOLDER_ID,
    l.TERRITORY,
    l.CURRENCY,
    l.TRACK_ID,
    t.ISRC,
    t.TITLE,
    t.DURATION_MS,
    s.SHARE_BPS,
    CAST(COALESCE(p.STREAMS, 0) AS BIGINT) AS STREAMS,
    l.AMOUNT
FROM ROYALTY_LEDGER AS l
LEFT JOIN PAID AS p ON p.TERRITORY = l.TERRITORY AND p.TRACK_ID = l.TRACK_ID
LEFT JOIN TRACKS AS t ON t.TRACK_ID = l.TRACK_ID
LEFT JOIN ROYALTY_SPLITS AS s ON s.TRACK_ID = l.TRACK_ID AND s.HOLDER_ID = l.HOLDER_ID
WHERE l.PERIOD = (SELECT PERIOD FROM PARAMS)
ORDER BY l.HOLDER_ID, l.TRACK_ID, l.TERRITORY, l.CURRENCY
