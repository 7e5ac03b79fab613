-- The prompts a catalog run plans from, in priority order.
SELECT * FROM PROMPT_CATALOG WHERE ACTIVE ORDER BY PRIORITY, PROMPT_ID
