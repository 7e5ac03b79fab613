-- Replaces table {table} with the current result of a named query, in one statement (readers see the old or the
-- new table, never half). Binds: those of the query. Parts: table, the identifier ANALYTICS_<NAME> built from
-- the query's header name; query, the query's file under sql/analytics (its text is included as the body).
CREATE OR REPLACE TABLE {table} AS
{query}
