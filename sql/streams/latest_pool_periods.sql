-- The latest :m periods that have revenue pools (PERIOD), latest first. Binds: :m (how many periods).
SELECT DISTINCT PERIOD FROM REVENUE_POOLS ORDER BY PERIOD DESC LIMIT :m
