-- Delivery (issue 14): one row per track and recipient, the outcome of the latest `maestro deliver` for it.
-- STATUS is 'delivered' (the package under PACKAGE_URI, the ERN message MESSAGE_ID) or 'refused' (REASON says why,
-- "<code>: <message>"; nothing was delivered). PACKAGE_SHA256 is the sha256 of the ERN message's bytes, which carry
-- the delivered audio's own SHA-256. CREATED_AT is when the row was first written; a rerun keeps it.
CREATE TABLE IF NOT EXISTS DELIVERIES (
    TRACK_ID VARCHAR NOT NULL,
    RECIPIENT VARCHAR NOT NULL,
    RELEASE_ID VARCHAR NOT NULL,
    ISRC VARCHAR,
    DELIVERY_DATE DATE NOT NULL,
    MESSAGE_ID VARCHAR,
    PACKAGE_URI VARCHAR,
    PACKAGE_SHA256 VARCHAR,
    AUDIO_URI VARCHAR,
    AUDIO_SHA256 VARCHAR,
    STATUS VARCHAR NOT NULL,
    REASON VARCHAR,
    CREATED_AT TIMESTAMP_NTZ NOT NULL,
    PRIMARY KEY (TRACK_ID, RECIPIENT)
);
