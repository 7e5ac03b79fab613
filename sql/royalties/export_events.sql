-- The period's STREAM_EVENTS, the Spark job's events input (LISTENER_ID for the user_centric policy; NULL on older
-- events). Binds: :period_start, :period_end (naive UTC timestamps; the period is [start, end)).
SELECT EVENT_ID, TRACK_ID, TERRITORY, EVENT_TS, MS_PLAYED, LISTENER_ID FROM STREAM_EVENTS
WHERE EVENT_TS >= :period_start AND EVENT_TS < :period_end
