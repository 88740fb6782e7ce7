-- Structured output: a run with an output_schema ends with its answer as JSON, valid for the
-- schema (`result` holds the same text). Same meaning in migrations/postgres and
-- migrations/sqlite.

ALTER TABLE runs ADD COLUMN result_json TEXT;
