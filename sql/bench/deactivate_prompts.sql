-- Marks every PROMPT_CATALOG row inactive, so a benchmark plans only its own prompts. No binds.
UPDATE PROMPT_CATALOG SET ACTIVE = FALSE
