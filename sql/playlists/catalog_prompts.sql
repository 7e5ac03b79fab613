-- Every PROMPT_CATALOG row (active or not), by PRIORITY then PROMPT_ID: the templates playlist requests start
-- from. No binds.
SELECT * FROM PROMPT_CATALOG ORDER BY PRIORITY, PROMPT_ID
