-- name: royalty_split_totals
-- description: Tracks whose splits are not exactly one non-negative row per holder summing to 10000 bps.
-- params: none
SELECT
    TRACK_ID,
    SUM(COALESCE(SHARE_BPS, -10000)) AS TOTAL_BPS,
    COUNT(*) AS SPLIT_ROWS
FROM ROYALTY_SPLITS
GROUP BY TRACK_ID
HAVING SUM(COALESCE(SHARE_BPS, -10000)) <> 10000
    OR MIN(COALESCE(SHARE_BPS, -1)) < 0
    OR COUNT(*) <> COUNT(DISTINCT HOLDER_ID)
ORDER BY TRACK_ID
