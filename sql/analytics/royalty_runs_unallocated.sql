-- name: royalty_runs_unallocated
-- description: Per computed month: paid, unmatched (unknown tracks) and unpooled streams, duplicates dropped,
--   invalid events, and the pools left unallocated (JSON), from ROYALTY_RUNS.
-- materialize: no
SELECT
    PERIOD,
    ENGINE,
    PAID_STREAMS,
    UNMATCHED_STREAMS,
    UNPOOLED_STREAMS,
    DUPLICATE_EVENTS,
    INVALID_EVENTS,
    LEDGER_LINES,
    TO_JSON(UNALLOCATED) AS UNALLOCATED
FROM ROYALTY_RUNS
ORDER BY PERIOD DESC
