-- The whole GENERATION_RUNS row of one run (no row when it was never opened). Binds: :run (RUN_ID).
SELECT * FROM GENERATION_RUNS WHERE RUN_ID = :run
