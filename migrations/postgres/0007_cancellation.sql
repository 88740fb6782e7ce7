-- Cancellation without heartbeats: the cancel route stamps the run and notifies the workers
-- (NOTIFY longrun_cancel), which stop the run's in-flight model and tool calls at once.
-- Same meaning as migrations/sqlite/0007_cancellation.sql.

ALTER TABLE runs ADD COLUMN cancel_requested_at BIGINT;
