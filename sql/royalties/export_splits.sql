-- The ROYALTY_SPLITS of every track streamed in the period, the Spark job's splits input.
-- Binds: :period_start, :period_end (naive UTC timestamps; the period is [start, end)).
SELECT TRACK_ID, HOLDER_ID, SHARE_BPS FROM ROYALTY_SPLITS WHERE TRACK_ID IN (
    SELECT DISTINCT TRACK_ID FROM STREAM_EVENTS WHERE EVENT_TS >= :period_start AND EVENT_TS < :period_end)
