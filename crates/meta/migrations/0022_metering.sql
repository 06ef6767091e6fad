-- berth metadata schema, version 22: metering (requests and bytes per hour, repository, principal and
-- operation) and hourly storage snapshots, for `berth usage report`.
--
-- Same conventions as 0001 (INTEGER Unix seconds, BINARY collation).
--
-- `hour`: Unix seconds of the hour's start (UTC). `repository`: the repository's name ('' for a request
-- about none; names, not ids, so a deleted repository's history stays). `subject`: a principal ARN or
-- `ip:ADDRESS` for an anonymous caller, as the rate limits name it ('' when the request was refused before
-- anyone was identified). `operation`: the route template or ECR/admin operation, as in the metrics.
-- Each node adds its in-memory counts every two seconds. Rows older than the retention are deleted.
CREATE TABLE meter (
    hour       INTEGER NOT NULL,
    repository TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    operation  TEXT    NOT NULL,
    requests   INTEGER NOT NULL CHECK (requests >= 0),
    bytes_in   INTEGER NOT NULL CHECK (bytes_in >= 0),
    bytes_out  INTEGER NOT NULL CHECK (bytes_out >= 0),
    PRIMARY KEY (hour, repository, subject, operation)
) STRICT, WITHOUT ROWID;

-- Storage per repository each hour (the latest snapshot of the hour; each blob counted once per repository
-- that links it, plus manifests), and repository '' for the registry's deduplicated storage (every blob
-- once, plus manifests). One hour of a snapshot is one hour of byte-hours.
CREATE TABLE storage_hourly (
    hour         INTEGER NOT NULL,
    repository   TEXT    NOT NULL,
    stored_bytes INTEGER NOT NULL CHECK (stored_bytes >= 0),
    PRIMARY KEY (hour, repository)
) STRICT, WITHOUT ROWID;
