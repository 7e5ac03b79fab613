-- The DELIVERIES rows already recorded for one recipient and some tracks (a rerun compares against them and keeps
-- their CREATED_AT). Binds: :recipient; placeholder {ids: :t#}: one bind per track id (t0, t1, ...).
SELECT TRACK_ID, RECIPIENT, RELEASE_ID, ISRC, DELIVERY_DATE, MESSAGE_ID, PACKAGE_URI, PACKAGE_SHA256, AUDIO_URI,
       AUDIO_SHA256, STATUS, REASON, CREATED_AT
FROM DELIVERIES
WHERE RECIPIENT = :recipient AND TRACK_ID IN ({ids: :t#})
ORDER BY TRACK_ID
