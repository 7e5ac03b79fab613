-- One playlist's tracks in position order, with each track's tempo, key and the run that made it (NULL columns
-- for a track not in TRACKS). Binds: :pl (PLAYLIST_ID).
SELECT PT.POSITION, PT.TRACK_ID, T.TEMPO_BPM, T.MUSICAL_KEY, R.RUN_ID FROM PLAYLIST_TRACKS PT
LEFT JOIN TRACKS T ON T.TRACK_ID = PT.TRACK_ID
LEFT JOIN GENERATION_REQUESTS R ON R.REQUEST_ID = T.REQUEST_ID
WHERE PT.PLAYLIST_ID = :pl ORDER BY PT.POSITION
