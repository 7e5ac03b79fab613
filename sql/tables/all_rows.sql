-- Every row of one table, for fingerprints. No binds. Part table: the table's name, an identifier the caller
-- takes from a fixed list (the pipeline's tables); a table name cannot be a bind.
SELECT * FROM {table}
