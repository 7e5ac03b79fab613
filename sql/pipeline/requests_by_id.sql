-- The stored GENERATION_REQUESTS rows of the given request ids (ids not stored have no row).
-- Binds: :r0, :r1, ... one per id. Part ids: how many ids (an int); the IN list repeats the bind ":r#" that many
-- times. An IN list of generated bind names, not a staged key table: this runs inside load transactions, where
-- Snowflake's staging DDL would commit.
SELECT * FROM GENERATION_REQUESTS WHERE REQUEST_ID IN ({ids: :r#})
