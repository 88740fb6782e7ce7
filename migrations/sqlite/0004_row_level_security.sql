-- Row-level security on the tenant tables: a second wall behind the workspace id every query
-- takes. SQLite has no row-level security and one process owns its file, so this migration
-- only records that the version exists; migrations/postgres/0004_row_level_security.sql
-- holds the policies.
SELECT 1;
