-- The reasons of a run's failed requests (one row each), for the run summary's top failure causes.
SELECT REQUEST_ID, REASONS
FROM GENERATION_REQUESTS
WHERE RUN_ID = :run AND STATUS = 'failed'
ORDER BY REQUEST_ID
