-- One page of a run's tracks (review/track_columns.sql), by TRACK_ID. Binds: :run (RUN_ID), :first and :last
-- (1-based row numbers, inclusive). Placeholder {tracks}: review/track_columns.sql.
WITH A AS ({tracks})
SELECT * FROM A
WHERE RUN_ID = :run
QUALIFY ROW_NUMBER() OVER (ORDER BY TRACK_ID) BETWEEN :first AND :last
ORDER BY TRACK_ID
