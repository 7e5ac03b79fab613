-- The territories with a revenue pool in any of the latest :m pool periods (TERRITORY), sorted.
-- Binds: :m (how many periods).
SELECT DISTINCT TERRITORY FROM REVENUE_POOLS WHERE PERIOD IN
(SELECT DISTINCT PERIOD FROM REVENUE_POOLS ORDER BY PERIOD DESC LIMIT :m)
ORDER BY TERRITORY
