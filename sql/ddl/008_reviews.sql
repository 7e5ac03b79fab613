-- Catalog review (issue 15): one row per track, the latest human decision on it from `maestro review serve`.
-- DECISION is 'approved' or 'held'; REVIEWER who decided, NOTE why ('' when no note was given), DECIDED_AT when
-- (UTC). RUN_ID is the generation run the track came from (its request's run). Deciding again replaces the row
-- (one MERGE on TRACK_ID); repeating the same decision, reviewer and note leaves it untouched, DECIDED_AT included.
-- With MAESTRO_REVIEW_REQUIRED set, delivery sends only tracks whose DECISION is 'approved'.
CREATE TABLE IF NOT EXISTS REVIEWS (
    TRACK_ID VARCHAR NOT NULL,
    RUN_ID VARCHAR NOT NULL,
    DECISION VARCHAR NOT NULL,
    REVIEWER VARCHAR NOT NULL,
    NOTE VARCHAR NOT NULL,
    DECIDED_AT TIMESTAMP_NTZ NOT NULL,
    PRIMARY KEY (TRACK_ID)
);
