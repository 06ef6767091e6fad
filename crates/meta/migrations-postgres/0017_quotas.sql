-- berth metadata schema, version 17 (PostgreSQL): storage quotas.
-- Same table as migrations/0017_quotas.sql.
--
-- One row per quota. `prefix` is a repository name (that repository) or a name followed by '/' (every
-- repository whose name starts with it); usage is computed from `repository_blobs` when needed, never stored.
CREATE TABLE quotas (
    prefix      TEXT   COLLATE "C" PRIMARY KEY,
    limit_bytes BIGINT NOT NULL CHECK (limit_bytes >= 0),
    updated_at  BIGINT NOT NULL
);
