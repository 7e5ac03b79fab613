-- name: royalty_ledger
-- description: The royalty rule in plain SQL, independent of the Spark job: ROYALTY_LEDGER lines of one period
--   (plus each line's qualifying STREAMS), rounded to micro-units by largest remainder within each pool, over the
--   tracks that earn under the policy (EARNING). The shares of tracks that do not earn are reallocated within the
--   pool; a pool with no earning track has no line (it is unallocated).
-- params: period (YYYY-MM), period_start and period_end (UTC timestamps bounding the month, end exclusive), and
--   those of the EARNING file.
-- parts: earning, the file of the policy's earning tracks (one TRACK_ID column): royalties/earning_pro_rata.sql
--   (every track with splits) or royalties/earning_streaming_2024.sql (which needs the part activity).
--
-- Exactness: all arithmetic is on NUMBER(38,0) integers. Snowflake and DuckDB disagree on `/` (DuckDB divides
-- DECIMALs as DOUBLE), so the floor of NUMERATOR / DENOMINATOR is built bit by bit from MOD and comparisons:
-- bit j of the quotient is set when MOD(N, D * 2^(j+1)) >= D * 2^j. Exact on both engines; no float anywhere.
-- Binds are read once, in PARAMS, so their order never depends on how the statement is rewritten.
WITH RECURSIVE BITS (J, POWER_OF_TWO) AS (
    SELECT 0, CAST(1 AS NUMBER(38, 0))
    UNION ALL
    SELECT J + 1, POWER_OF_TWO * 2 FROM BITS WHERE J < 62
),
PARAMS AS (
    SELECT CAST(:period AS VARCHAR) AS PERIOD,
           CAST(:period_start AS TIMESTAMP_NTZ) AS PERIOD_START,
           CAST(:period_end AS TIMESTAMP_NTZ) AS PERIOD_END
),
EARNING AS ({earning}),
EVENTS AS (
    SELECT EVENT_ID, TRACK_ID, TERRITORY, EVENT_TS, MS_PLAYED
    FROM STREAM_EVENTS
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY EVENT_ID
        ORDER BY EVENT_TS ASC NULLS FIRST, TRACK_ID ASC NULLS FIRST, TERRITORY ASC NULLS FIRST,
                 MS_PLAYED ASC NULLS FIRST
    ) = 1
),
PAID AS (
    SELECT e.TERRITORY, e.TRACK_ID, COUNT(*) AS STREAMS
    FROM EVENTS AS e
    WHERE e.MS_PLAYED >= 30000
      AND e.EVENT_TS >= (SELECT PERIOD_START FROM PARAMS)
      AND e.EVENT_TS < (SELECT PERIOD_END FROM PARAMS)
      AND e.TRACK_ID IN (SELECT s.TRACK_ID FROM ROYALTY_SPLITS AS s)
      AND e.TRACK_ID IN (SELECT r.TRACK_ID FROM EARNING AS r)
    GROUP BY e.TERRITORY, e.TRACK_ID
),
TOTALS AS (
    SELECT TERRITORY, SUM(STREAMS) AS TOTAL_STREAMS FROM PAID GROUP BY TERRITORY
),
POOLS AS (
    SELECT TERRITORY, CURRENCY, CAST(CAST(AMOUNT AS NUMBER(38, 6)) * 1000000 AS NUMBER(38, 0)) AS POOL_MICROS
    FROM REVENUE_POOLS
    WHERE PERIOD = (SELECT PERIOD FROM PARAMS)
),
LINES AS (
    SELECT
        p.TERRITORY, p.CURRENCY, q.TRACK_ID, s.HOLDER_ID, q.STREAMS, p.POOL_MICROS,
        p.POOL_MICROS * CAST(q.STREAMS AS NUMBER(38, 0)) * CAST(s.SHARE_BPS AS NUMBER(38, 0)) AS NUMERATOR,
        CAST(t.TOTAL_STREAMS AS NUMBER(38, 0)) * 10000 AS DENOMINATOR
    FROM POOLS AS p
    JOIN PAID AS q ON q.TERRITORY = p.TERRITORY
    JOIN TOTALS AS t ON t.TERRITORY = p.TERRITORY
    JOIN ROYALTY_SPLITS AS s ON s.TRACK_ID = q.TRACK_ID
),
FLOORED AS (
    SELECT
        l.TERRITORY, l.CURRENCY, l.TRACK_ID, l.HOLDER_ID, l.STREAMS, l.POOL_MICROS,
        MOD(l.NUMERATOR, l.DENOMINATOR) AS REMAINDER,
        SUM(CASE WHEN MOD(l.NUMERATOR, l.DENOMINATOR * b.POWER_OF_TWO * 2) >= l.DENOMINATOR * b.POWER_OF_TWO
                 THEN b.POWER_OF_TWO ELSE 0 END) AS FLOOR_MICROS
    FROM LINES AS l
    CROSS JOIN BITS AS b
    GROUP BY l.TERRITORY, l.CURRENCY, l.TRACK_ID, l.HOLDER_ID, l.STREAMS, l.POOL_MICROS, l.NUMERATOR,
             l.DENOMINATOR
),
ROUNDED AS (
    SELECT
        f.*,
        ROW_NUMBER() OVER (
            PARTITION BY f.TERRITORY, f.CURRENCY ORDER BY f.REMAINDER DESC, f.TRACK_ID ASC, f.HOLDER_ID ASC
        ) AS RANK_IN_POOL,
        f.POOL_MICROS - SUM(f.FLOOR_MICROS) OVER (PARTITION BY f.TERRITORY, f.CURRENCY) AS LEFTOVER
    FROM FLOORED AS f
)
SELECT
    (SELECT PERIOD FROM PARAMS) AS PERIOD,
    TERRITORY,
    TRACK_ID,
    HOLDER_ID,
    CURRENCY,
    CAST(
        CAST(FLOOR_MICROS + CASE WHEN RANK_IN_POOL <= LEFTOVER THEN 1 ELSE 0 END AS NUMBER(31, 0))
        * CAST(0.000001 AS NUMBER(7, 6)) AS NUMBER(38, 6)
    ) AS AMOUNT,
    CAST(STREAMS AS BIGINT) AS STREAMS
FROM ROUNDED
ORDER BY TERRITORY, CURRENCY, TRACK_ID, HOLDER_ID
