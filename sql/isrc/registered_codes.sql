-- The ISRC_REGISTRY codes (TRACK_ID, ISRC) of the given track ids (ids without a code have no row).
-- Binds: :t0, :t1, ... one per track id. Part ids: how many ids (an int); the IN list repeats the bind ":t#" that
-- many times (generated bind names; this runs inside the minting transaction, where staging keys would be DDL).
SELECT TRACK_ID, ISRC FROM ISRC_REGISTRY WHERE TRACK_ID IN ({ids: :t#})
