-- The row count of one table (one row, one column). No binds. Part table: the table's name, an identifier the
-- caller takes from a fixed list (the DDL's tables, or ANALYTICS_<NAME> of a query under sql/analytics); a table
-- name cannot be a bind.
SELECT COUNT(*) FROM {table}
