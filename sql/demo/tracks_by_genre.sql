-- The tracks one run produced, counted per genre: (GENRE, N), by genre. Binds: :run (RUN_ID).
SELECT T.GENRE, COUNT(*) AS N FROM TRACKS T JOIN GENERATION_REQUESTS R ON R.REQUEST_ID = T.REQUEST_ID
WHERE R.RUN_ID = :run GROUP BY T.GENRE ORDER BY T.GENRE
