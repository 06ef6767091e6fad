-- berth metadata schema, version 17: storage quotas.
--
-- Same conventions as 0001 (INTEGER Unix seconds, BINARY collation).
--
-- One row per quota. `prefix` is a repository name (that repository) or a name followed by '/' (every
-- repository whose name starts with it); usage is computed from `repository_blobs` when needed, never stored.
CREATE TABLE quotas (
    prefix      TEXT    PRIMARY KEY,
    limit_bytes INTEGER NOT NULL CHECK (limit_bytes >= 0),
    updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
