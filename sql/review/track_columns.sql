-- Every track as the review shows it (included by run_tracks.sql and track.sql; no binds): TRACKS beside what its
-- request asked for (REQUESTED_*: the prompt's, with the run's duration), the true peak and QC warnings from the
-- provenance document's QC figures (extra.qc, JSON text), the C2PA manifest state, and its REVIEWS decision
-- (NULLs while pending).
SELECT T.TRACK_ID, Q.RUN_ID, T.REQUEST_ID, Q.PROMPT_ID, T.ISRC, T.TITLE, T.GENRE, T.MOOD, T.TEMPO_BPM,
       T.MUSICAL_KEY, T.LOUDNESS_LUFS, T.DURATION_MS, T.URI,
       P.GENRE AS REQUESTED_GENRE, P.MOOD AS REQUESTED_MOOD, P.TEMPO_BPM AS REQUESTED_TEMPO_BPM,
       P.MUSICAL_KEY AS REQUESTED_MUSICAL_KEY,
       -- The run's length (a run may override the prompt's, e.g. `--duration 5`), as the worker recorded it.
       COALESCE(TRY_TO_DOUBLE(JSON_EXTRACT_PATH_TEXT(TO_JSON(V.PROVENANCE), 'params.duration_s')), P.DURATION_S)
           AS REQUESTED_DURATION_S,
       JSON_EXTRACT_PATH_TEXT(TO_JSON(V.PROVENANCE), 'extra.qc.true_peak_dbtp') AS TRUE_PEAK_DBTP,
       JSON_EXTRACT_PATH_TEXT(TO_JSON(V.PROVENANCE), 'extra.qc.warnings') AS QC_WARNINGS,
       V.MANIFEST_SIGNED,
       W.RUN_ID AS REVIEW_RUN_ID, W.DECISION, W.REVIEWER, W.NOTE, W.DECIDED_AT
FROM TRACKS T
JOIN GENERATION_REQUESTS Q ON Q.REQUEST_ID = T.REQUEST_ID
LEFT JOIN PROMPT_CATALOG P ON P.PROMPT_ID = Q.PROMPT_ID
LEFT JOIN TRACK_PROVENANCE V ON V.TRACK_ID = T.TRACK_ID
LEFT JOIN REVIEWS W ON W.TRACK_ID = T.TRACK_ID
