-- berth metadata schema, version 10 (PostgreSQL): upload sessions record how many bytes their last append
-- added. Same as migrations/0010_upload_last_part.sql.
ALTER TABLE uploads ADD COLUMN last_part BIGINT NOT NULL DEFAULT 0;
