-- One track of review/track_columns.sql (no row for an unknown id). Binds: :track (TRACK_ID).
-- Placeholder {tracks}: review/track_columns.sql.
WITH A AS ({tracks})
SELECT * FROM A WHERE TRACK_ID = :track
