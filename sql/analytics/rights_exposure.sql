-- name: rights_exposure
-- description: Tracks whose licenses (TRACK_PROVENANCE.LICENSE_IDS) expire within N days of a date, with the
--   license, its holder and the track's qualifying streams (>= 30000 ms) over the 30 days before that date.
-- param: as_of date - the reference day, YYYY-MM-DD
-- param: days int 30 - the horizon in days
-- materialize: no
WITH PARAMS AS (
    -- every bind is read here, once
    SELECT CAST(:as_of AS DATE) AS AS_OF, CAST(:days AS INTEGER) AS DAYS
),
EXPIRING AS (
    SELECT LICENSE_ID, ASSET_ID, HOLDER_ID, VALID_TO
    FROM LICENSES
    WHERE VALID_TO IS NOT NULL
      AND VALID_TO >= (SELECT AS_OF FROM PARAMS)
      AND VALID_TO < (SELECT DATEADD(day, DAYS, AS_OF) FROM PARAMS)
),
RECENT AS (
    SELECT TRACK_ID, COUNT(DISTINCT EVENT_ID) AS STREAMS_30D
    FROM STREAM_EVENTS
    WHERE MS_PLAYED >= 30000
      AND EVENT_TS >= (SELECT CAST(DATEADD(day, -30, AS_OF) AS TIMESTAMP_NTZ) FROM PARAMS)
      AND EVENT_TS < (SELECT CAST(AS_OF AS TIMESTAMP_NTZ) FROM PARAMS)
    GROUP BY TRACK_ID
)
SELECT
    p.TRACK_ID,
    t.TITLE,
    x.LICENSE_ID,
    x.ASSET_ID,
    x.HOLDER_ID,
    x.VALID_TO,
    DATEDIFF(day, (SELECT AS_OF FROM PARAMS), x.VALID_TO) AS DAYS_LEFT,
    COALESCE(s.STREAMS_30D, 0) AS STREAMS_30D
FROM TRACK_PROVENANCE AS p
JOIN EXPIRING AS x ON CONTAINS(TO_JSON(p.LICENSE_IDS), '"' || x.LICENSE_ID || '"')
LEFT JOIN TRACKS AS t ON t.TRACK_ID = p.TRACK_ID
LEFT JOIN RECENT AS s ON s.TRACK_ID = p.TRACK_ID
ORDER BY x.VALID_TO, STREAMS_30D DESC, p.TRACK_ID
