-- berth metadata schema, version 19 (PostgreSQL): pull time update exclusions and archived images.
-- Same tables as migrations/0019_pull_exclusions_and_archive.sql.
CREATE TABLE pull_time_exclusions (
    principal_arn TEXT   COLLATE "C" PRIMARY KEY,
    created_at    BIGINT NOT NULL
);

CREATE TABLE image_storage (
    manifest_id       BIGINT PRIMARY KEY REFERENCES manifests (id) ON DELETE CASCADE,
    status            TEXT   COLLATE "C" NOT NULL CHECK (status IN ('ACTIVE', 'ARCHIVED', 'ACTIVATING')),
    last_archived_at  BIGINT,
    last_activated_at BIGINT
);
CREATE INDEX image_storage_inactive ON image_storage (status) WHERE status <> 'ACTIVE';
