-- bench/review.py: every prompt id, in order.
SELECT PROMPT_ID FROM PROMPT_CATALOG ORDER BY 1
