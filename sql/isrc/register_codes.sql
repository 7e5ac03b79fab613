-- Records newly minted ISRCs in ISRC_REGISTRY, one VALUES row per track, stamped with the statement's time.
-- Binds: :prefix, :year, and per row i: :t<i> (TRACK_ID), :i<i> (ISRC), :d<i> (DESIGNATION). Part rows: how many
-- rows (an int); the VALUES list repeats the row pattern that many times, so the rows are all generated binds.
INSERT INTO ISRC_REGISTRY (TRACK_ID, ISRC, PREFIX, YEAR, DESIGNATION, ASSIGNED_AT)
VALUES {rows: (:t#, :i#, :prefix, :year, :d#, CURRENT_TIMESTAMP())}
