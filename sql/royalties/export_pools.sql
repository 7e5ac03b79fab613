-- The period's REVENUE_POOLS, the Spark job's pools input. Binds: :period (YYYY-MM).
SELECT PERIOD, TERRITORY, CURRENCY, AMOUNT FROM REVENUE_POOLS WHERE PERIOD = :period
