-- A run's requests counted by status: one row (STATUS, N) per status present. Binds: :run (RUN_ID).
SELECT STATUS, COUNT(*) AS N FROM GENERATION_REQUESTS WHERE RUN_ID = :run GROUP BY STATUS
