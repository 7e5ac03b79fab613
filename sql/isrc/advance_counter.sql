-- Advances a prefix's counter by :n designations (on Snowflake the UPDATE takes the row lock before anyone reads
-- the new value). Binds: :n (designations to reserve), :prefix.
UPDATE ISRC_COUNTER SET LAST_DESIGNATION = LAST_DESIGNATION + :n WHERE PREFIX = :prefix
