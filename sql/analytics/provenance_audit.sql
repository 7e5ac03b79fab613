-- name: provenance_audit
-- description: Tracks failing the provenance audit: no TRACK_PROVENANCE row, no signed manifest, or an audio hash
--   mismatch (TRACKS.SHA256 and TRACK_PROVENANCE.AUDIO_SHA256 both hold the PCM sha256 and must be equal).
-- materialize: yes
SELECT
    t.TRACK_ID,
    t.TITLE,
    t.CREATED_AT,
    CASE
        WHEN p.TRACK_ID IS NULL THEN 'no provenance row'
        WHEN p.AUDIO_SHA256 IS NULL OR p.AUDIO_SHA256 <> t.SHA256 THEN 'audio hash mismatch'
        ELSE 'no signed manifest'
    END AS PROBLEM,
    t.SHA256 AS TRACK_SHA256,
    p.AUDIO_SHA256 AS PROVENANCE_AUDIO_SHA256
FROM TRACKS AS t
LEFT JOIN TRACK_PROVENANCE AS p ON p.TRACK_ID = t.TRACK_ID
WHERE p.TRACK_ID IS NULL
   OR p.AUDIO_SHA256 IS NULL
   OR p.AUDIO_SHA256 <> t.SHA256
   OR p.MANIFEST_SIGNED IS NULL
   OR NOT p.MANIFEST_SIGNED
ORDER BY PROBLEM, t.TRACK_ID
