-- The tracks that earn under streaming_2024 (an EARNING relation of royalties/ledger.sql): at least 1000 qualifying
-- streams in the trailing 12 months and, for a functional genre, DURATION_MS >= 120000.
-- Binds: those of the activity file (:trailing_start, :period_end); :functional_genres, the functional genres each
-- followed and preceded by CHR(31) (e.g. CHR(31) || 'sleep' || CHR(31); CHR(31) alone when there is none).
-- Parts: activity, royalties/track_activity.sql (the same relation the Spark job reads as track_activity.parquet).
SELECT a.TRACK_ID
FROM ({activity}) AS a
WHERE a.TRAILING_STREAMS >= 1000
  AND NOT (COALESCE(POSITION(CHR(31) || a.GENRE || CHR(31) IN CAST(:functional_genres AS VARCHAR)) > 0, FALSE)
           AND COALESCE(a.DURATION_MS < 120000, FALSE))
