-- berth metadata schema, version 21 (PostgreSQL): rate limit counters.
-- Same table as migrations/0021_rate_limits.sql.
CREATE TABLE rate_limit_counts (
    limit_kind   TEXT   COLLATE "C" NOT NULL,
    subject      TEXT   COLLATE "C" NOT NULL,
    window_start BIGINT NOT NULL,
    window_end   BIGINT NOT NULL,
    count        BIGINT NOT NULL CHECK (count >= 0),
    PRIMARY KEY (limit_kind, subject, window_start)
);
CREATE INDEX rate_limit_counts_end ON rate_limit_counts (window_end);
