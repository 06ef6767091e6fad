-- berth metadata schema, version 21: rate limit counters.
--
-- Same conventions as 0001 (INTEGER Unix seconds, BINARY collation).
--
-- How many requests the nodes admitted per (limit, subject, fixed window), as each node reported them
-- (every second, or sooner near the limit). `limit_kind` is `manifest_pulls`, `anonymous_manifest_pulls` or
-- `requests`; `subject` a principal ARN or `ip:ADDRESS`. Rows of ended windows are deleted by the upkeep.
CREATE TABLE rate_limit_counts (
    limit_kind   TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    count        INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (limit_kind, subject, window_start)
) STRICT, WITHOUT ROWID;
CREATE INDEX rate_limit_counts_end ON rate_limit_counts (window_end);
