-- berth metadata schema, version 13 (PostgreSQL): usage over time, and indexes for the audit log's filters.
-- Same tables and indexes as migrations/0013_usage_history_and_audit_filters.sql.
--
-- One row per repository and day (`day`: Unix seconds of 00:00 UTC). Transfer figures are what that day
-- added to the repository's counters in `usage` (written with them, in the same transaction); storage
-- figures are the latest snapshot taken that day (every hour by each server; NULL until the first).
CREATE TABLE usage_daily (
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    day           BIGINT NOT NULL,
    bytes_in      BIGINT NOT NULL DEFAULT 0 CHECK (bytes_in >= 0),
    bytes_out     BIGINT NOT NULL DEFAULT 0 CHECK (bytes_out >= 0),
    pulls         BIGINT NOT NULL DEFAULT 0 CHECK (pulls >= 0),
    stored_bytes  BIGINT CHECK (stored_bytes >= 0),
    images        BIGINT CHECK (images >= 0),
    PRIMARY KEY (repository_id, day)
);
-- Registry-wide totals per day.
CREATE INDEX usage_daily_day ON usage_daily (day);

-- The audit log filtered by who or by what, newest first.
CREATE INDEX audit_log_principal ON audit_log (principal, id);
CREATE INDEX audit_log_resource ON audit_log (resource, id);
