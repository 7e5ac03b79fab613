-- Rights snapshot: blocked prompt terms (matched in Python, never spliced into SQL).
SELECT TERM, REASON FROM BLOCKED_TERMS ORDER BY TERM
