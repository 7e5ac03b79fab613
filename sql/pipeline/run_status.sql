-- The STATUS of one GENERATION_RUNS row (no row when the run was never opened). Binds: :run (RUN_ID).
SELECT STATUS FROM GENERATION_RUNS WHERE RUN_ID = :run
