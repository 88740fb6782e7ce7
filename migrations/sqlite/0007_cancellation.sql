-- Cancellation without heartbeats: the cancel route stamps the run; workers on SQLite poll the
-- runs they have calls in flight for. Same meaning as migrations/postgres/0007_cancellation.sql.

ALTER TABLE runs ADD COLUMN cancel_requested_at INTEGER;
