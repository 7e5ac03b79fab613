-- name: royalty_pools
-- description: The revenue pools of one period, for validation (amounts at most 6 decimals) and the
--   unallocated report.
-- params: period (YYYY-MM)
SELECT TERRITORY, CURRENCY, AMOUNT
FROM REVENUE_POOLS
WHERE PERIOD = :period
ORDER BY TERRITORY, CURRENCY
