-- The provenance document stored for one track (JSON text; no row without one). Binds: :track (TRACK_ID).
SELECT TO_JSON(PROVENANCE) AS PROVENANCE FROM TRACK_PROVENANCE WHERE TRACK_ID = :track AND PROVENANCE IS NOT NULL
