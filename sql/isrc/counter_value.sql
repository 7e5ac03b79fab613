-- The last designation reserved under a prefix (one row, one column). Binds: :prefix.
SELECT LAST_DESIGNATION FROM ISRC_COUNTER WHERE PREFIX = :prefix
