-- Creates the ISRC_COUNTER row of a prefix at 0 unless it exists (insert-if-absent rather than MERGE: fakesnow,
-- the Snowflake stand-in, cannot MERGE inside a transaction). Binds: :prefix (the 7-character CCXXXYY).
INSERT INTO ISRC_COUNTER (PREFIX, LAST_DESIGNATION) SELECT :prefix, 0
WHERE NOT EXISTS (SELECT 1 FROM ISRC_COUNTER WHERE PREFIX = :prefix)
