-- bench/review.py: every rights holder id, in order.
SELECT HOLDER_ID FROM RIGHTS_HOLDERS ORDER BY 1
