-- The period's STREAM_EVENTS, the Spark job's events input. Binds: :period_start, :period_end (naive UTC
-- timestamps; the period is [start, end)).
SELECT EVENT_ID, TRACK_ID, TERRITORY, EVENT_TS, MS_PLAYED FROM STREAM_EVENTS
WHERE EVENT_TS >= :period_start AND EVENT_TS < :period_end
